"""The dashboard's view of the data: channel kinds and checks, the data_in index,
series thinning and time formatting (no HTTP, no sessions)."""

import json
import math
import time

from uedge.config.config_applications import parse_config_applications
from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError

from .http_server import Response

MAX_SERIES_POINTS = 5000
CONFIG_NAMES = ("config_io", "config_applications")

_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no")


def jresp(obj, status=200):
    return Response(status, json.dumps(obj), "application/json",
                    {"Cache-Control": "no-store"})


# ------------------------------------------------------------------ channels


def channel_kind(cfg):
    """number / boolean / string / json / location, as the edge reads the channel."""
    pt, dt = cfg.primitive_type, cfg.data_type
    if dt == "LOCATION":
        return "location"
    for kind in ("BOOLEAN", "STRING", "JSON"):
        if pt == kind or (pt is None and dt == kind):
            return kind.lower()
    return "number"


def check_control(cfg, value):
    """(value to send, None) or (None, message): type, control_properties.range and enum,
    the same rules the page applies before it sends anything."""
    cid = cfg.id
    if not cfg.control:
        return None, "channel %s is not a control channel (properties.control is not true)" % cid
    kind = channel_kind(cfg)
    if kind == "boolean":
        v = value
        if isinstance(v, str):
            s = v.strip().lower()
            v = True if s in _TRUE else False if s in _FALSE else None
        if v is not True and v is not False:
            return None, "channel %s: expected a boolean, got %s" % (cid, json.dumps(value))
    elif kind == "number":
        v = value
        if isinstance(v, str):
            try:
                v = float(v.strip())
                if v == int(v) and "." not in value and "e" not in value.lower():
                    v = int(v)
            except ValueError:
                v = None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or \
                (isinstance(v, float) and not math.isfinite(v)):
            return None, "channel %s: expected a number, got %s" % (cid, json.dumps(value))
        if cfg.control_min is not None and v < cfg.control_min:
            return None, "channel %s: %s is below control_properties.range.min %s" % (
                cid, v, cfg.control_min)
        if cfg.control_max is not None and v > cfg.control_max:
            return None, "channel %s: %s is above control_properties.range.max %s" % (
                cid, v, cfg.control_max)
    elif kind == "string":
        if not isinstance(value, str):
            return None, "channel %s: expected a string, got %s" % (cid, json.dumps(value))
        v = value
    elif kind == "location":
        v = value
        if not (isinstance(v, dict) and all(isinstance(v.get(k), (int, float)) and
                                            not isinstance(v.get(k), bool) for k in ("lat", "lng"))):
            return None, 'channel %s: expected {"lat": number, "lng": number}' % cid
    else:
        v = value
    en = cfg.control_enum
    if en is not None and kind != "json":
        if v not in [_enum_item(item, kind) for item in en]:
            return None, "channel %s: %s is not one of %s" % (cid, json.dumps(v), ", ".join(en))
    return v, None


def _enum_item(item, kind):
    """An enum entry (always text in config_io) read as the channel's kind."""
    if kind == "number":
        try:
            f = float(item)
        except ValueError:
            return None
        return int(f) if f == int(f) else f
    if kind == "boolean":
        s = item.strip().lower()
        return True if s in _TRUE else False if s in _FALSE else None
    return item


def describe_channel(cfg):
    out = {
        "id": cfg.id,
        "display_name": cfg.display_name,
        "description": cfg.description,
        "data_type": cfg.data_type,
        "data_unit": cfg.data_unit,
        "primitive_type": cfg.primitive_type,
        "kind": channel_kind(cfg),
        "precision": cfg.precision,
        "control": bool(cfg.control),
        "device_diagnostic": bool(cfg.device_diagnostic),
        "min": cfg.min,
        "max": cfg.max,
        "report_rate": cfg.report_rate,
        "timeout": cfg.timeout,
        "locked": bool(cfg.locked),
    }
    if cfg.control:
        out["range"] = {"min": cfg.control_min, "max": cfg.control_max}
        out["enum"] = cfg.control_enum
    return out


def validate(name, text):
    """Run uedge's own validator: (parsed, None) or (None, its message)."""
    try:
        if name == "config_io":
            return parse_config_io(text), None
        return parse_config_applications(text), None
    except ConfigError as e:
        return None, str(e)


# ------------------------------------------------------------------ data_in index


class DataInIndex:
    """Per device: reports (data_in payloads) and points (channel values) stored,
    and each channel's latest value, latest __error and point count. Updated
    incrementally from the newest rows; rebuilt when rows appear in the past."""

    def __init__(self):
        self.rows = 0
        self.max_ts = 0
        self.points = 0
        self.latest = {}  # cid -> (ts_us, value)
        self.errors = {}  # cid -> (ts_us, message)
        self.counts = {}  # cid -> number of points

    def add(self, ts, text):
        self.rows += 1
        if ts > self.max_ts:
            self.max_ts = ts
        try:
            d = json.loads(text)
        except ValueError:
            return
        if not isinstance(d, dict):
            return
        for cid, v in d.items():
            if cid == "__error":
                if isinstance(v, dict):
                    for ecid, msg in v.items():
                        if ts >= self.errors.get(ecid, (0,))[0]:
                            self.errors[ecid] = (ts, msg if isinstance(msg, str) else json.dumps(msg))
                continue
            self.points += 1
            self.counts[cid] = self.counts.get(cid, 0) + 1
            if ts >= self.latest.get(cid, (0,))[0]:
                self.latest[cid] = (ts, v)


def parse_rows(rows):
    """[(ts, text, source)] -> (points {cid: [[ts, v]]}, errors {cid: [[ts, msg]]})."""
    series, errors = {}, {}
    for ts, text, _src in rows:
        try:
            d = json.loads(text)
        except ValueError:
            continue
        if not isinstance(d, dict):
            continue
        for cid, v in d.items():
            if cid == "__error":
                if isinstance(v, dict):
                    for ecid, msg in v.items():
                        errors.setdefault(ecid, []).append(
                            [ts, msg if isinstance(msg, str) else json.dumps(msg)])
                continue
            series.setdefault(cid, []).append([ts, v])
    return series, errors


def plot_value(v):
    if v is True or v is False:
        return 1 if v else 0
    if isinstance(v, (int, float)) and math.isfinite(v):
        return v
    return None


def thin(points, max_points):
    """At most ~max_points points: per time bucket its min and max (shape kept)."""
    if len(points) <= max_points:
        return points
    buckets = max(1, max_points // 2)
    t0, t1 = points[0][0], points[-1][0]
    width = (t1 - t0) / buckets or 1
    out, cur, key = [], [], None
    for p in points:
        k = int((p[0] - t0) / width)
        if k != key and cur:
            out.extend(_minmax(cur))
            cur = []
        key = k
        cur.append(p)
    if cur:
        out.extend(_minmax(cur))
    return out


def _minmax(bucket):
    lo = min(bucket, key=lambda p: p[1])
    hi = max(bucket, key=lambda p: p[1])
    if lo is hi:
        return [lo]
    return [lo, hi] if lo[0] <= hi[0] else [hi, lo]


def iso(ts_us):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_us // 1000000)) + \
        ".%06dZ" % (ts_us % 1000000)


def same_value(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def html_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
