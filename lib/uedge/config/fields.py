"""Field checks shared by config_io and config_applications: each failure names the field."""

from uedge.compat import json
from uedge.config.model import ConfigError

# Characters allowed in a channel id: the schema's ^[-+#%()\t \/0-9:A-Z_a-z]+$
_ID_EXTRA = "-+#%()\t /:_"


def type_name(v):
    if v is None:
        return "null"
    if v is True or v is False:
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, (list, tuple)):
        return "array"
    return type(v).__name__


def is_number(v):
    # bool is an int subclass on CPython but not on MicroPython: test it first.
    if v is True or v is False:
        return False
    return isinstance(v, (int, float))


def is_int(v):
    if v is True or v is False:
        return False
    return isinstance(v, int)


def integral(v):
    # JSON Schema's "integer" admits 5000.0; return the int, or None.
    if is_int(v):
        return v
    if isinstance(v, float) and v - v == 0 and v == int(v):
        return int(v)
    return None


def quoted(v):
    try:
        return json.dumps(v)
    except Exception:
        return repr(v)


def valid_channel_id(cid):
    if not isinstance(cid, str) or not cid:
        return False
    for c in cid:
        if not ("0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z" or c in _ID_EXTRA):
            return False
    return True


def upper_ident(v):
    # ^[A-Z_]+$
    if not v:
        return False
    for c in v:
        if not ("A" <= c <= "Z" or c == "_"):
            return False
    return True


class Fields:
    """Builds error messages with the channel prefix; raises ConfigError.

    section ("properties.", ...) names the object being read: a field is named
    section + key unless a name is given (the names are built only for an
    error, so a board holds no table of them)."""

    def __init__(self, prefix, section=""):
        self.prefix = prefix
        self.section = section

    def fail(self, field, msg):
        raise ConfigError("%s%s %s" % (self.prefix, field, msg))

    def bad(self, key, msg):
        """fail() for the field key of this section."""
        self.fail(self.section + key, msg)

    def obj(self, d, key, field=None, required=False):
        v = d.get(key)
        if v is None:
            if required:
                self.fail(field or self.section + key, "is required")
            return None
        if not isinstance(v, dict):
            self.fail(field or self.section + key, "must be an object, got %s" % type_name(v))
        return v

    def string(self, d, key, field=None, required=False, nullable=False):
        if key not in d:
            if required:
                self.fail(field or self.section + key, "is required")
            return None
        v = d[key]
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            self.fail(field or self.section + key, "must be a string, got %s" % type_name(v))
        return v

    def boolean(self, d, key, field=None, default=False):
        if key not in d:
            return default
        v = d[key]
        if v is not True and v is not False:
            self.fail(field or self.section + key, "must be true or false, got %s" % quoted(v))
        return v

    def number(self, d, key, field=None, nullable=True):
        v = d.get(key)
        if v is None and (nullable or key not in d):
            return None
        if not is_number(v):
            self.fail(field or self.section + key, "must be a number, got %s" % quoted(v))
        return v

    def rate(self, d, key, field=None, nullable=False):
        v = d.get(key)
        if v is None and (nullable or key not in d):
            return None
        v = integral(v)
        if v is None:
            self.fail(field or self.section + key, "must be an integer number of milliseconds, got %s" % quoted(d[key]))
        if v <= 0:
            self.fail(field or self.section + key, "must be a positive number of milliseconds, got %d" % v)
        return v


# ---------------------------------------------------------------- config_io
