"""data_in payloads and $resource.batch bodies.

A report is encoded exactly once; the outbox stores the string.
"""

from uedge.compat import MICROPYTHON, json

_SEP = (",", ":")
_INF = float("inf")
_NINF = -_INF


def json_finite(v, depth=0):
    """True when v (nested too) holds no NaN or Infinity: JSON cannot carry them."""
    t = type(v)
    if t is float:
        return not (v != v or v == _INF or v == _NINF)
    if t is dict:
        if depth > 32:
            return False
        for k in v:
            if not json_finite(v[k], depth + 1):
                return False
    elif t is list or t is tuple:
        if depth > 32:
            return False
        for x in v:
            if not json_finite(x, depth + 1):
                return False
    return True


def _dumps(obj):
    """Compact JSON; raises ValueError instead of writing NaN/Infinity."""
    if not MICROPYTHON:
        return json.dumps(obj, separators=_SEP, allow_nan=False)
    s = json.dumps(obj, separators=_SEP)
    # MicroPython writes nan/inf bare; a hit may also be text in a string,
    # so look closer only then
    if ("nan" in s or "inf" in s) and not json_finite(obj):
        raise ValueError("NaN or Infinity in a value")
    return s


def encode_data_in(values, errors=None):
    """Compact JSON object of channel values, with "__error" when errors.

    Never writes NaN or Infinity (invalid JSON): a channel whose value holds
    one is reported as an error instead.
    """
    try:
        return _encode(values, errors)
    except ValueError:
        pass
    clean = {}
    errs = {}
    if errors:
        for k in errors:
            errs[k] = errors[k]
    for k in values:
        if json_finite(values[k]):
            clean[k] = values[k]
        else:
            errs[k] = "value is not valid JSON (NaN or Infinity)"
    return _encode(clean, errs)


def _encode(values, errors):
    if not errors:
        return _dumps(values)
    # Borrow the caller's dict for one dumps() instead of copying it.
    had = "__error" in values
    old = values.get("__error")
    values["__error"] = errors
    try:
        return _dumps(values)
    finally:
        if had:
            values["__error"] = old
        else:
            del values["__error"]
