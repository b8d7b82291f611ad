"""The connector's dashboard: a browser view of the devices, their channels,
plots of the channel history, control requests and the config editors, served
on the admin port under the admin API's auth rules.

Pages and their JSON (all under the admin port):

GET  /dashboard/                         the page (static html/js/css, no build step)
GET  /dashboard/login[?key=K]            login form; a one-time key logs in at once
POST /dashboard/login                    form token=<admin token> -> session cookie
POST /dashboard/logout
POST /api/dashboard/login-link           (admin token) -> {"path": one-time login path}
GET  /api/dashboard/overview             status + devices with their state
GET  /api/dashboard/devices/<id>         channels (config_io + latest value/error), counts
GET  /api/dashboard/devices/<id>/series?channels=a,b&since=US&until=US&max=N
GET  /api/dashboard/devices/<id>/csv?channel=C&since=US&until=US
POST /api/dashboard/devices/<id>/control {"channel": C, "value": V} -> data_out
GET  /api/dashboard/devices/<id>/control?ts=US&channel=C   ack / echo / error since ts
GET  /api/dashboard/devices/<id>/config/<config_io|config_applications>
PUT  /api/dashboard/devices/<id>/config/<name>  validated, then set (pushed to the device)
POST /api/dashboard/validate/<config_io|config_applications>   body = the text

Auth: without an admin token everything is open on loopback, as the admin API
is. With one, the JSON needs "Authorization: Bearer <token>" or the session
cookie (HttpOnly, SameSite=Strict) that the login sets; the page itself sends
only the cookie. Every request's Host must name the admin address (no DNS
rebinding) and a request carrying an Origin must come from that same origin;
cookie-authenticated writes must carry it. Neither the token nor session ids
are logged.
"""

import csv
import hmac
import io
import json
import math
import os
import secrets
import time
import urllib.parse

from uedge.config.config_applications import parse_config_applications
from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError

from .http_server import HTTPError, Response
from .store import now_us

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboard_static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
COOKIE = "uedge_dash"
SESSION_LIFETIME_S = 12 * 3600
LOGIN_KEY_LIFETIME_S = 15 * 60
MAX_SERIES_POINTS = 5000
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CONFIG_NAMES = ("config_io", "config_applications")

_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no")


def jresp(obj, status=200):
    return Response(status, json.dumps(obj), "application/json",
                    {"Cache-Control": "no-store"})


def _host_name(host_header):
    """'127.0.0.1:8090' -> '127.0.0.1', '[::1]:8090' -> '::1'."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if ":" in h else h


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


# ------------------------------------------------------------------ the dashboard


class Dashboard:
    def __init__(self, hub, token=None, info=None, admin_host="127.0.0.1"):
        self.hub = hub
        self.token = token
        self.info = info if info is not None else {}
        self.admin_host = admin_host
        self.sessions = {}  # session id -> expiry (monotonic s)
        self.login_keys = {}  # one-time key -> expiry
        self.indexes = {}  # device id -> DataInIndex

    # -- request checks ------------------------------------------------------
    def check_request(self, req):
        """Host must name this admin listener; an Origin must be this origin."""
        host = req.header("host")
        if host is not None and self.admin_host in LOOPBACK_NAMES + ("",):
            if _host_name(host) not in LOOPBACK_NAMES and not _host_name(host).startswith("127."):
                raise HTTPError(403, "unexpected Host header")
        origin = req.header("origin")
        if origin is not None and host is not None:
            if origin.lower() != "http://" + host.strip().lower():
                raise HTTPError(403, "cross-origin request refused")

    def _session(self, req):
        cookies = req.header("cookie", "")
        for part in cookies.split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE and v:
                exp = self.sessions.get(v)
                if exp is not None and exp > time.monotonic():
                    return v
                self.sessions.pop(v, None)
        return None

    def authorized(self, req):
        """Bearer token, or the session cookie (writes must also carry Origin)."""
        if self.token is None:
            return True
        auth = req.header("authorization", "")
        if hmac.compare_digest(auth.encode(), ("Bearer " + self.token).encode()):
            return True
        if self._session(req) is None:
            return False
        if req.method not in ("GET", "HEAD") and req.header("origin") is None:
            return False
        return True

    def bearer(self, req):
        if self.token is None:
            return True
        return hmac.compare_digest(req.header("authorization", "").encode(),
                                   ("Bearer " + self.token).encode())

    def _new_session(self):
        now = time.monotonic()
        for sid in [s for s, exp in self.sessions.items() if exp <= now]:
            del self.sessions[sid]
        sid = secrets.token_urlsafe(32)
        self.sessions[sid] = now + SESSION_LIFETIME_S
        return sid

    def _login_ok(self, sid):
        return Response(303, "", headers={
            "Location": "/dashboard/",
            "Set-Cookie": "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d"
            % (COOKIE, sid, SESSION_LIFETIME_S),
            "Cache-Control": "no-store"})

    def new_login_key(self):
        now = time.monotonic()
        for k in [k for k, exp in self.login_keys.items() if exp <= now]:
            del self.login_keys[k]
        key = secrets.token_urlsafe(24)
        self.login_keys[key] = now + LOGIN_KEY_LIFETIME_S
        return key

    # -- pages ------------------------------------------------------------------
    async def page(self, req):
        path = req.raw_path
        if path == "/":
            return Response(303, "", headers={"Location": "/dashboard/"})
        if path == "/dashboard":
            return Response(303, "", headers={"Location": "/dashboard/"})
        if path.startswith("/dashboard/static/") and req.method in ("GET", "HEAD"):
            return self.static(path[len("/dashboard/static/"):])
        if path == "/dashboard/login":
            return await self.login(req)
        if path == "/dashboard/logout" and req.method == "POST":
            sid = self._session(req)
            if sid:
                self.sessions.pop(sid, None)
            return Response(303, "", headers={
                "Location": "/dashboard/login",
                "Set-Cookie": "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" % COOKIE})
        if path == "/dashboard/" and req.method in ("GET", "HEAD"):
            if not self.authorized(req):
                return Response(303, "", headers={"Location": "/dashboard/login"})
            return self.static("index.html")
        raise HTTPError(404, "no such page")

    def static(self, name):
        if "/" in name or name.startswith(".") or os.path.splitext(name)[1] not in STATIC_TYPES:
            raise HTTPError(404, "no such file")
        path = os.path.join(STATIC_DIR, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            raise HTTPError(404, "no such file") from None
        return Response(200, data, STATIC_TYPES[os.path.splitext(name)[1]], {
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache"})

    async def login(self, req):
        if self.token is None:
            return Response(303, "", headers={"Location": "/dashboard/"})
        message = ""
        status = 200
        if req.method == "GET":
            key = req.arg("key")
            if key:
                exp = self.login_keys.pop(key, None)
                if exp is not None and exp > time.monotonic():
                    return self._login_ok(self._new_session())
                message = "This login link was used already or has expired."
                status = 401
        elif req.method == "POST":
            form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
            given = (form.get("token") or [""])[0].strip()
            if given and hmac.compare_digest(given.encode(), self.token.encode()):
                return self._login_ok(self._new_session())
            message = "Wrong admin token."
            status = 401
        else:
            raise HTTPError(405, "GET or POST")
        with open(os.path.join(STATIC_DIR, "login.html"), encoding="utf-8") as f:
            html = f.read()
        where = self.info.get("admin_token_file") or "DATA/admin.token"
        html = html.replace("{{token_file}}", _html(where)).replace("{{message}}", _html(message))
        return Response(status, html, STATIC_TYPES[".html"], {
            "Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})

    # -- JSON ------------------------------------------------------------------------
    async def api(self, req, parts):
        """parts: the path after /api/dashboard/."""
        m = req.method
        if parts == ["login-link"] and m == "POST":
            if not self.bearer(req):
                raise HTTPError(401, "admin token required")
            if self.token is None:
                return jresp({"path": "/dashboard/"})
            return jresp({"path": "/dashboard/login?key=" + self.new_login_key()})
        if parts == ["overview"] and m == "GET":
            return jresp(self.overview())
        if len(parts) == 2 and parts[0] == "validate" and parts[1] in CONFIG_NAMES and m == "POST":
            text = self._text(req)
            parsed, err = validate(parts[1], text)
            return jresp({"ok": err is None, "error": err,
                          "summary": None if parsed is None else self._summary(parts[1], parsed)})
        if len(parts) >= 2 and parts[0] == "devices":
            return self.device(req, parts[1], parts[2:])
        raise HTTPError(404, "no such endpoint")

    def _text(self, req):
        try:
            return req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "body is not UTF-8") from None

    def _summary(self, name, parsed):
        if name == "config_io":
            return {"channels": list(parsed.order)}
        return {"applications": sorted(parsed.applications)}

    def overview(self):
        hub = self.hub
        devs = []
        for d in hub.store.devices():
            idx = self.index(d["id"])
            last = self.last_seen(d["id"])
            devs.append(dict(d, connected=hub.connected(d["id"]), last_seen_us=last,
                             reports=idx.rows, points=idx.points))
        status = {k: self.info.get(k) for k in ("auth", "started_us", "data_dir")}
        status["ports"] = dict(hub.ports)
        status["self_register"] = hub.self_register
        status["login"] = self.token is not None
        return {"now_us": now_us(), "status": status, "devices": devs}

    def last_seen(self, device_id):
        """Time of the device's newest write of any resource (None: never)."""
        store = self.hub.store
        row = store.db.execute(
            "SELECT max(ts_us) FROM resources WHERE device=? AND source='device'",
            (device_id,)).fetchone()
        return row[0] if row else None

    def index(self, device_id):
        """The device's DataInIndex, brought up to date with the store."""
        db = self.hub.store.db
        idx = self.indexes.get(device_id)
        count, max_ts = db.execute(
            "SELECT count(*), max(ts_us) FROM resources WHERE device=? AND alias='data_in'"
            " AND source='device'", (device_id,)).fetchone()
        max_ts = max_ts or 0
        if idx is not None and count == idx.rows and max_ts == idx.max_ts:
            return idx
        rows = None
        if idx is not None and count > idx.rows:
            rows = db.execute(
                "SELECT ts_us, value FROM resources WHERE device=? AND alias='data_in'"
                " AND source='device' AND ts_us>? ORDER BY ts_us", (device_id, idx.max_ts)).fetchall()
            if len(rows) != count - idx.rows:
                rows = None  # points were written in the past: count again
        if rows is None:
            idx = DataInIndex()
            rows = db.execute(
                "SELECT ts_us, value FROM resources WHERE device=? AND alias='data_in'"
                " AND source='device' ORDER BY ts_us", (device_id,)).fetchall()
        for ts, text in rows:
            idx.add(ts, text)
        self.indexes[device_id] = idx
        return idx

    def config(self, device_id, name):
        """(latest text, ts_us, source) or (None, None, None)."""
        latest = self.hub.store.latest(device_id, name)
        if latest is None:
            return None, None, None
        return latest[1], latest[0], latest[2]

    def device(self, req, device_id, rest):
        hub = self.hub
        store = hub.store
        m = req.method
        dev = store.device(device_id)
        if dev is None:
            raise HTTPError(404, "no such device %s" % device_id)
        if not rest and m == "GET":
            return jresp(self.device_view(dev))
        if rest == ["series"] and m == "GET":
            return jresp(self.series(req, device_id))
        if rest == ["csv"] and m == "GET":
            return self.csv(req, device_id)
        if rest == ["control"] and m == "POST":
            return self.control(req, device_id)
        if rest == ["control"] and m == "GET":
            return jresp(self.control_status(req, device_id))
        if len(rest) == 2 and rest[0] == "config" and rest[1] in CONFIG_NAMES:
            name = rest[1]
            if m == "GET":
                text, ts, source = self.config(device_id, name)
                err = None
                if text is not None:
                    err = validate(name, text)[1]
                return jresp({"name": name, "text": text, "ts_us": ts, "source": source,
                              "valid": text is not None and err is None, "error": err})
            if m == "PUT":
                text = self._text(req)
                parsed, err = validate(name, text)
                if err is not None:
                    return jresp({"ok": False, "error": err}, 422)
                ts = hub.cloud_set(device_id, name, text)
                return jresp({"ok": True, "ts_us": ts, "summary": self._summary(name, parsed)})
        raise HTTPError(404, "no such endpoint")

    def parsed_config(self, device_id):
        text, ts, source = self.config(device_id, "config_io")
        if text is None:
            return None, None, None
        parsed, err = validate("config_io", text)
        return parsed, err, {"ts_us": ts, "source": source}

    def device_view(self, dev):
        device_id = dev["id"]
        idx = self.index(device_id)
        parsed, err, meta = self.parsed_config(device_id)
        channels = []
        known = set()
        if parsed is not None:
            for cfg in parsed:
                known.add(cfg.id)
                channels.append(describe_channel(cfg))
        for cid in sorted(set(idx.latest) - known):  # values for channels config_io lacks
            channels.append({"id": cid, "display_name": cid, "kind": "unknown",
                             "not_in_config": True, "control": False})
        for ch in channels:
            cid = ch["id"]
            lt = idx.latest.get(cid)
            ch["latest"] = None if lt is None else {"ts_us": lt[0], "value": lt[1]}
            er = idx.errors.get(cid)
            ch["error"] = None if er is None else {"ts_us": er[0], "message": er[1]}
            ch["points"] = idx.counts.get(cid, 0)
        other_errors = [{"key": k, "ts_us": v[0], "message": v[1]}
                        for k, v in sorted(idx.errors.items()) if k not in known]
        info = {k: v for k, v in dev.items() if not k.startswith("cred")}
        info["provisioned"] = info.get("provisioned_us") is not None
        info["connected"] = self.hub.connected(device_id)
        info["last_seen_us"] = self.last_seen(device_id)
        return {
            "now_us": now_us(),
            "device": info,
            "config_io": None if meta is None else dict(meta, valid=err is None, error=err),
            "channels": channels,
            "device_errors": other_errors,
            "data_in": {"reports": idx.rows, "points": idx.points},
        }

    def _range(self, req):
        def num(name):
            v = req.arg(name)
            if v in (None, ""):
                return None
            try:
                return int(v)
            except ValueError:
                raise HTTPError(400, "%s must be an integer" % name) from None
        return num("since"), num("until"), num("max")

    def series(self, req, device_id):
        since, until, max_points = self._range(req)
        wanted = [c for c in (req.arg("channels") or "").split(",") if c]
        rows = self.hub.store.history(device_id, "data_in", None, since, until)
        rows = [r for r in rows if r[2] == "device"]
        pts, errs = parse_rows(rows)
        limit = min(max_points or MAX_SERIES_POINTS, MAX_SERIES_POINTS)
        out = {}
        for cid in wanted or list(pts):
            plotted = [[t, plot_value(v)] for t, v in pts.get(cid, ())]
            plotted = [p for p in plotted if p[1] is not None]
            out[cid] = thin(plotted, limit)
        return {"now_us": now_us(), "until_us": rows[-1][0] if rows else None,
                "series": out,
                "errors": {cid: e for cid, e in errs.items() if not wanted or cid in wanted}}

    def csv(self, req, device_id):
        cid = req.arg("channel")
        if not cid:
            raise HTTPError(400, "channel is required")
        since, until, _ = self._range(req)
        rows = [r for r in self.hub.store.history(device_id, "data_in", None, since, until)
                if r[2] == "device"]
        pts, errs = parse_rows(rows)
        merged = {}
        for t, v in pts.get(cid, ()):
            merged.setdefault(t, [None, ""])[0] = v
        for t, msg in errs.get(cid, ()):
            merged.setdefault(t, [None, ""])[1] = msg
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["time_utc", "ts_us", "value", "error"])
        for t in sorted(merged):
            v, msg = merged[t]
            if v is None:
                cell = ""
            elif isinstance(v, str):
                cell = v
            else:
                cell = json.dumps(v)
            w.writerow([iso(t), t, cell, msg])
        fname = "%s_%s.csv" % (device_id, cid)
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in fname)
        return Response(200, buf.getvalue(), "text/csv; charset=utf-8", {
            "Content-Disposition": 'attachment; filename="%s"' % safe,
            "Cache-Control": "no-store"})

    def control(self, req, device_id):
        try:
            body = json.loads(self._text(req) or "{}")
        except ValueError:
            raise HTTPError(400, "body is not JSON") from None
        if not isinstance(body, dict) or "channel" not in body or "value" not in body:
            raise HTTPError(400, 'body must be {"channel": id, "value": value}')
        cid = body["channel"]
        parsed, err, _meta = self.parsed_config(device_id)
        if parsed is None:
            return jresp({"ok": False, "error": "the device has no valid config_io%s"
                          % (": " + err if err else "")}, 422)
        cfg = parsed.channels.get(cid)
        if cfg is None:
            return jresp({"ok": False, "error": "channel %s is not in config_io" % cid}, 422)
        value, err = check_control(cfg, body["value"])
        if err is not None:
            return jresp({"ok": False, "error": err}, 422)
        text = json.dumps({cid: value})
        ts = self.hub.cloud_set(device_id, "data_out", text)
        return jresp({"ok": True, "ts_us": ts, "data_out": text,
                      "mqtt_connections": self.hub.connected(device_id)})

    def control_status(self, req, device_id):
        try:
            ts = int(req.arg("ts") or "")
        except ValueError:
            raise HTTPError(400, "ts must be an integer") from None
        cid = req.arg("channel") or ""
        store = self.hub.store
        sent = [r for r in store.history(device_id, "data_out", None, ts, ts) if r[2] == "cloud"]
        ack = None
        for t, v, s in store.history(device_id, "data_out", None, ts + 1, None):
            if s == "device" and (not sent or v == sent[0][1]):
                ack = {"ts_us": t, "value": v}
                break
        echo = error = None
        rows = [r for r in store.history(device_id, "data_in", None, ts, None) if r[2] == "device"]
        pts, errs = parse_rows(rows)
        want = None
        if sent:
            try:
                want = json.loads(sent[0][1]).get(cid)
            except (ValueError, AttributeError):
                want = None
        # the echo: the requested state reported in data_in after the request (the
        # device stamps a report with its sample time, which can precede the ack)
        later = pts.get(cid, ())
        for t, v in later:
            if _same(v, want):
                echo = {"ts_us": t, "value": v, "matches": True}
                break
        if echo is None and later and ack is not None and later[-1][0] > ack["ts_us"]:
            echo = {"ts_us": later[-1][0], "value": later[-1][1], "matches": False}
        if errs.get(cid):
            t, msg = errs[cid][0]
            error = {"ts_us": t, "message": msg}
        return {"now_us": now_us(), "sent": sent[0][1] if sent else None,
                "ack": ack, "echo": echo, "error": error}


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _html(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))
