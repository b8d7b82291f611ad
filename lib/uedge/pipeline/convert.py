"""Reading a raw sample as a channel's kind, and the conversions data_out
requests use (uedge.pipeline.control): text as a number or a boolean,
locations, JSON values. Loaded the first time a sample is not a finite int or
float of a numeric channel (uedge.pipeline.channel.Channel._convert): a
board's numeric channels never load it.
"""

from uedge.pipeline.payload import json_finite
from uedge.pipeline.values import KIND_BOOLEAN, KIND_LOCATION, KIND_NUMBER, KIND_STRING

_INF = float("inf")
_NINF = -_INF
_TRUE = ("true", "on", "yes", "1", "high", "open")
_FALSE = ("false", "off", "no", "0", "low", "closed")


def _text(v):
    """bytes -> str (None when not UTF-8); anything else as it is."""
    if isinstance(v, (bytes, bytearray)):
        try:
            return v.decode()
        except Exception:
            return None
    return v


def to_bool(v):
    """Return True/False, or None when v has no boolean reading."""
    if v is True or v is False:
        return v
    if isinstance(v, (int, float)):
        if v != v:
            return None
        return v != 0
    v = _text(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


def to_number(v):
    """Return an int/float, or None when v is not a finite number."""
    if v is True:
        return 1
    if v is False:
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != v or v == _INF or v == _NINF:  # JSON cannot carry them
            return None
        return v
    v = _text(v)
    if isinstance(v, str):
        try:
            if "." in v or "e" in v or "E" in v or "n" in v or "N" in v:
                f = float(v)
            else:
                f = int(v)
        except Exception:
            return None
        if f != f or f == _INF or f == _NINF:
            return None
        return f
    return None


def check_location(v):
    """Return None when v is a valid {"lat":..,"lng":..} object, else a message."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return None
    if not isinstance(v, dict):
        return "location must be an object with lat and lng"
    lat = v.get("lat")
    lng = v.get("lng")
    if to_number(lat) is None or lat is True or lat is False or isinstance(lat, str):
        return "location lat must be a number"
    if to_number(lng) is None or lng is True or lng is False or isinstance(lng, str):
        return "location lng must be a number"
    if lat < -90 or lat > 90:
        return "location lat must be -90..90, got %s" % lat
    if lng < -180 or lng > 180:
        return "location lng must be -180..180, got %s" % lng
    return None


def short_repr(v):
    s = repr(v)
    if len(s) > 40:
        s = s[:37] + "..."
    return s


def convert(ch, raw, bad):
    """raw as channel ch's kind, or bad with the message in ch.cerr."""
    k = ch.kind
    if k == KIND_NUMBER:
        if type(raw) is float:
            if raw != raw or raw == _INF or raw == _NINF:
                ch.cerr = "not a number: %s" % short_repr(raw)
                return bad
            v = raw
        elif type(raw) is int:
            v = raw
        else:
            v = to_number(raw)
            if v is None:
                ch.cerr = "not a number: %s" % short_repr(raw)
                return bad
        return v  # scaled at report time (see window_value)
    if k == KIND_BOOLEAN:
        v = to_bool(raw)
        if v is None:
            ch.cerr = "not a boolean: %s" % short_repr(raw)
            return bad
        return v
    if k == KIND_STRING:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (bytes, bytearray)):
            try:
                return raw.decode()
            except Exception:
                ch.cerr = "not UTF-8 text"
                return bad
        if raw is None or isinstance(raw, (dict, list)):
            ch.cerr = "not a string: %s" % short_repr(raw)
            return bad
        return str(raw)
    if k == KIND_LOCATION:
        msg = check_location(raw)
        if msg is None and isinstance(raw, (list, tuple)):
            raw = {"lat": raw[0], "lng": raw[1]}
            msg = check_location(raw)
        if msg is not None:
            ch.cerr = msg
            return bad
        return raw
    # JSON: JSON-able values pass through (nested NaN/Infinity are refused)
    if isinstance(raw, (dict, list)):
        if not json_finite(raw):
            ch.cerr = "not JSON (NaN or Infinity inside): %s" % short_repr(raw)
            return bad
        return raw
    if isinstance(raw, str) or raw is None or raw is True or raw is False or type(raw) is int:
        return raw
    if type(raw) is float:
        if raw != raw or raw == _INF or raw == _NINF:
            ch.cerr = "not JSON: %s" % short_repr(raw)
            return bad
        return raw
    if isinstance(raw, tuple):
        if not json_finite(raw):
            ch.cerr = "not JSON (NaN or Infinity inside): %s" % short_repr(raw)
            return bad
        return list(raw)
    if isinstance(raw, (bytes, bytearray)):
        try:
            return raw.decode()
        except Exception:
            pass
    ch.cerr = "not JSON: %s" % short_repr(raw)
    return bad
