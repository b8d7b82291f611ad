"""JSON on CPython from the C accelerator alone (_json): what uedge.compat.json
is on a gateway.

The json package's Python modules import re (and with it enum, functools,
collections): about 1.2 MB of a gateway daemon's resident memory for a
scanner and an encoder that are C code anyway. Here the same C scanner and
encoder are called directly, so the text is the one json.dumps writes and
the values the ones json.loads returns. What is not in C goes to the json
package, loaded then: indent (status output, OTA manifests), and the message
of a malformed text (the C scanner builds json.JSONDecodeError, a
ValueError, which loads json.decoder). A text with no value at all raises a
ValueError here. MicroPython boards use their built-in json instead.
"""

try:
    import _json
except ImportError:  # an interpreter without the accelerator
    _json = None

_INF = float("inf")
_CONSTANTS = {"NaN": float("nan"), "Infinity": _INF, "-Infinity": -_INF}
_WS = " \t\n\r"


class _Context:
    """The attributes the C scanner reads from a json.JSONDecoder (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo = None


_scan = _json.make_scanner(_Context()) if _json is not None else None
_encoders = {}


def _default(o):
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


def loads(s):
    """json.loads(s): str, bytes or bytearray (UTF-8)."""
    if _scan is None:
        import json

        return json.loads(s)
    if not isinstance(s, str):
        if not isinstance(s, (bytes, bytearray)):
            raise TypeError("the JSON object must be str, bytes or bytearray, not %s" % type(s).__name__)
        s = bytes(s).decode("utf-8")
    if s.startswith("\ufeff"):
        raise ValueError("Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)")
    i = len(s) - len(s.lstrip(_WS))
    try:
        obj, end = _scan(s, i)
    except StopIteration as e:
        raise ValueError("Expecting value: char %d" % e.value) from None
    if end != len(s) and s[end:].strip(_WS):
        raise ValueError("Extra data: char %d" % (len(s) - len(s[end:].lstrip(_WS))))
    return obj


def dumps(obj, separators=None, allow_nan=True, default=None, sort_keys=False, indent=None):
    """json.dumps(obj, ...) with ensure_ascii and check_circular as by default."""
    if indent is not None or _json is None:
        import json

        return json.dumps(obj, separators=separators, allow_nan=allow_nan, default=default,
                          sort_keys=sort_keys, indent=indent)
    key = (separators, allow_nan, default, sort_keys)
    e = _encoders.get(key)
    if e is None:
        item_sep, key_sep = separators if separators is not None else (", ", ": ")
        # the containers being encoded (circular references): the C encoder
        # takes each out again when done, so one dict serves every call
        # (emptied after an error)
        markers = {}
        e = (_json.make_encoder(markers, default or _default, _json.encode_basestring_ascii, None,
                                key_sep, item_sep, sort_keys, False, allow_nan), markers)
        if len(_encoders) < 8:
            _encoders[key] = e
    try:
        return "".join(e[0](obj, 0))
    except BaseException:
        e[1].clear()
        raise


def load(f):
    return loads(f.read())


def dump(obj, f, **options):
    f.write(dumps(obj, **options))
