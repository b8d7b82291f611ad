"""config_io and config_applications: parsing and validation.

The ExoSense Data IO Schema is the specification. Validation is written by
hand (no jsonschema on a board) and every message names the channel and the
field, e.g. ``channel 002: protocol_config.down_sample must be one of MIN,
MAX, AVG, ACT, got "MEAN"``.

JSON text is read by a small parser of our own rather than json.loads because
(a) the seed's own examples carry trailing commas, (b) json.loads silently
keeps the last of two equal keys (a duplicated channel id would vanish) and
MicroPython's json has no object_pairs_hook to catch that, and (c) errors
must name a position on both runtimes.
"""

import json

DOWN_SAMPLE = ("MIN", "MAX", "AVG", "ACT")
PRIMITIVE_TYPES = ("BOOLEAN", "NUMERIC", "STRING", "JSON")
DEFAULT_REPORT_RATE = 60000
MAX_DEPTH = 32

# Characters allowed in a channel id: the schema's ^[-+#%()\t \/0-9:A-Z_a-z]+$
_ID_EXTRA = "-+#%()\t /:_"



class ConfigError(ValueError):
    pass


# config_applications lives in uedge.config_apps, imported when one is parsed
# (a board without one never loads it); its names are reachable here too.
_APPS_NAMES = ("ConfigApplications", "MODBUS_RTU_ENUMS", "CANOPEN_ENUMS", "INTERFACE_ENUMS")


def __getattr__(name):
    if name in _APPS_NAMES:
        from uedge import config_apps

        return getattr(config_apps, name)
    raise AttributeError(name)


def parse_config_applications(obj_or_text):
    """Validate a config_applications document (dict or JSON text) -> ConfigApplications."""
    from uedge import config_apps

    return config_apps.parse_config_applications(obj_or_text)


# ---------------------------------------------------------------- JSON text


def _where(text, pos):
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return "at line %d column %d (char %d)" % (line, col, pos)


class _Parser:
    def __init__(self, text):
        self.s = text
        self.n = len(text)
        self.path = []
        self.channel_order = []  # keys of the top-level "channels" object, in order

    def fail(self, msg, pos):
        raise ConfigError("invalid JSON: %s %s" % (msg, _where(self.s, pos)))

    def ws(self, i):
        s = self.s
        n = self.n
        while i < n and s[i] in " \t\r\n":
            i += 1
        return i

    def value(self, i, depth):
        i = self.ws(i)
        if i >= self.n:
            self.fail("unexpected end of text", i)
        c = self.s[i]
        if c == "{":
            return self.obj(i + 1, depth + 1)
        if c == "[":
            return self.arr(i + 1, depth + 1)
        if c == '"':
            return self.string(i + 1)
        if c == "t" and self.s.startswith("true", i):
            return True, i + 4
        if c == "f" and self.s.startswith("false", i):
            return False, i + 5
        if c == "n" and self.s.startswith("null", i):
            return None, i + 4
        if c == "-" or "0" <= c <= "9":
            return self.number(i)
        self.fail("unexpected character %s" % json.dumps(c), i)

    def obj(self, i, depth):
        if depth > MAX_DEPTH:
            self.fail("nesting deeper than %d" % MAX_DEPTH, i)
        out = {}
        s = self.s
        i = self.ws(i)
        if i < self.n and s[i] == "}":
            return out, i + 1
        while True:
            i = self.ws(i)
            if i >= self.n or s[i] != '"':
                self.fail("expected a string key", i)
            kpos = i
            key, i = self.string(i + 1)
            if key in out:
                if self.path == ["channels"]:
                    raise ConfigError("duplicate channel id %s %s" % (json.dumps(key), _where(s, kpos)))
                where = ".".join(self.path)
                raise ConfigError(
                    "duplicate key %s%s %s"
                    % (json.dumps(key), (" in " + where) if where else "", _where(s, kpos))
                )
            i = self.ws(i)
            if i >= self.n or s[i] != ":":
                self.fail("expected ':'", i)
            if depth == 2 and self.path == ["channels"]:
                self.channel_order.append(key)
            self.path.append(key)
            v, i = self.value(i + 1, depth)
            self.path.pop()
            out[key] = v
            i = self.ws(i)
            if i >= self.n:
                self.fail("unexpected end of text", i)
            c = s[i]
            if c == "}":
                return out, i + 1
            if c != ",":
                self.fail("expected ',' or '}'", i)
            i = self.ws(i + 1)
            if i < self.n and s[i] == "}":  # trailing comma
                return out, i + 1

    def arr(self, i, depth):
        if depth > MAX_DEPTH:
            self.fail("nesting deeper than %d" % MAX_DEPTH, i)
        out = []
        s = self.s
        i = self.ws(i)
        if i < self.n and s[i] == "]":
            return out, i + 1
        self.path.append("[]")
        while True:
            v, i = self.value(i, depth)
            out.append(v)
            i = self.ws(i)
            if i >= self.n:
                self.fail("unexpected end of text", i)
            c = s[i]
            if c == "]":
                self.path.pop()
                return out, i + 1
            if c != ",":
                self.fail("expected ',' or ']'", i)
            i = self.ws(i + 1)
            if i < self.n and s[i] == "]":  # trailing comma
                self.path.pop()
                return out, i + 1

    def string(self, i):
        s = self.s
        n = self.n
        start = i
        parts = None
        while True:
            j = i
            while j < n:
                c = s[j]
                if c == '"' or c == "\\" or c < " ":
                    break
                j += 1
            if j >= n:
                self.fail("unterminated string", start - 1)
            c = s[j]
            if c == '"':
                if parts is None:
                    return s[start:j], j + 1
                parts.append(s[i:j])
                return "".join(parts), j + 1
            if c != "\\":
                self.fail("control character in string", j)
            if parts is None:
                parts = []
            parts.append(s[i:j])
            if j + 1 >= n:
                self.fail("unterminated string", start - 1)
            e = s[j + 1]
            i = j + 2
            if e == "u":
                cp = self.hex4(i)
                i += 4
                if 0xD800 <= cp < 0xDC00 and s.startswith("\\u", i):
                    lo = self.hex4(i + 2)
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                if 0xD800 <= cp < 0xE000:
                    cp = 0xFFFD  # lone surrogate: not representable on MicroPython
                parts.append(chr(cp))
            else:
                k = '"\\/bfnrt'.find(e)
                if k < 0:
                    self.fail("invalid escape", j)
                parts.append('"\\/\b\f\n\r\t'[k])

    def hex4(self, i):
        h = self.s[i : i + 4]
        if len(h) != 4:
            self.fail("invalid \\u escape", i)
        v = 0
        for c in h:
            d = "0123456789abcdef".find(c.lower())
            if d < 0:
                self.fail("invalid \\u escape", i)
            v = v * 16 + d
        return v

    def digits(self, j, start):
        """End of the run of digits at j; none there makes the number at start invalid."""
        k = j
        while j < self.n and "0" <= self.s[j] <= "9":
            j += 1
        if j == k:
            self.fail("invalid number", start)
        return j

    def number(self, i):
        s = self.s
        n = self.n
        j = i
        if s[j] == "-":
            j += 1
        k = j
        j = self.digits(j, i)
        if s[k] == "0" and j - k > 1:
            self.fail("invalid number", i)
        is_float = False
        if j < n and s[j] == ".":
            j = self.digits(j + 1, i)
            is_float = True
        if j < n and s[j] in "eE":
            j += 1
            if j < n and s[j] in "+-":
                j += 1
            j = self.digits(j, i)
            is_float = True
        txt = s[i:j]
        if is_float:
            v = float(txt)
            if v - v != 0:  # inf: JSON cannot carry it back out
                self.fail("number out of range", i)
            return v, j
        return int(txt), j


def loads(text):
    """Parse JSON text, tolerating trailing commas, rejecting duplicate keys."""
    return _parse(text)[0]


def _parse(text):
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except Exception:
            raise ConfigError("invalid JSON: not UTF-8 text") from None
    if not isinstance(text, str):
        raise ConfigError("invalid JSON: expected text, got %s" % _tname(text))
    p = _Parser(text)
    v, i = p.value(0, 0)
    i = p.ws(i)
    if i != p.n:
        p.fail("extra data after the value", i)
    return v, p.channel_order


# ---------------------------------------------------------------- type helpers


def _tname(v):
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


def _integral(v):
    # JSON Schema's "integer" admits 5000.0; return the int, or None.
    if is_int(v):
        return v
    if isinstance(v, float) and v - v == 0 and v == int(v):
        return int(v)
    return None


def _q(v):
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


def _upper_ident(v):
    # ^[A-Z_]+$
    if not v:
        return False
    for c in v:
        if not ("A" <= c <= "Z" or c == "_"):
            return False
    return True


class _Ctx:
    """Builds error messages with the channel prefix; raises ConfigError."""

    def __init__(self, prefix):
        self.prefix = prefix

    def fail(self, field, msg):
        raise ConfigError("%s%s %s" % (self.prefix, field, msg))

    def obj(self, d, key, field, required=False):
        v = d.get(key)
        if v is None:
            if required:
                self.fail(field, "is required")
            return None
        if not isinstance(v, dict):
            self.fail(field, "must be an object, got %s" % _tname(v))
        return v

    def string(self, d, key, field, required=False, nullable=False):
        if key not in d:
            if required:
                self.fail(field, "is required")
            return None
        v = d[key]
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            self.fail(field, "must be a string, got %s" % _tname(v))
        return v

    def boolean(self, d, key, field, default=False):
        if key not in d:
            return default
        v = d[key]
        if v is not True and v is not False:
            self.fail(field, "must be true or false, got %s" % _q(v))
        return v

    def number(self, d, key, field, nullable=True):
        v = d.get(key)
        if v is None and (nullable or key not in d):
            return None
        if not is_number(v):
            self.fail(field, "must be a number, got %s" % _q(v))
        return v

    def rate(self, d, key, field, nullable=False):
        v = d.get(key)
        if v is None and (nullable or key not in d):
            return None
        v = _integral(v)
        if v is None:
            self.fail(field, "must be an integer number of milliseconds, got %s" % _q(d[key]))
        if v <= 0:
            self.fail(field, "must be a positive number of milliseconds, got %d" % v)
        return v


# ---------------------------------------------------------------- config_io


_NO_DEFAULT = object()


class ChannelConfig:
    """One validated channel of config_io, with defaults filled in.

    The defaults are class attributes and an instance stores only the values
    that differ from them: 16 channels take noticeably less RAM on a board.
    """

    description = None
    data_unit = None
    primitive_type = None
    precision = None
    locked = False
    control = False
    device_diagnostic = False
    min = None
    max = None
    timeout = None
    report_on_change = False
    report_on_change_tolerance = 0
    down_sample = "ACT"
    application = None
    interface = None
    input_raw_min = None
    input_raw_max = None
    input_raw_unit = None
    multiplier = None
    offset = None
    control_min = None
    control_max = None
    control_enum = None
    source_state = None

    def __init__(self, cid, raw):
        self.id = cid
        self.raw = raw

    def _set(self, name, v):
        d = getattr(ChannelConfig, name, _NO_DEFAULT)
        if v is not d and (type(v) is not type(d) or v != d):
            setattr(self, name, v)

    def __repr__(self):
        return "<ChannelConfig %s %s>" % (self.id, self.data_type)


class ConfigIO:
    def __init__(self, raw):
        self.raw = raw
        self.channels = {}
        self.order = []  # channel ids in document order (MicroPython dicts are unordered)
        self.last_edited = None
        self.last_editor = None
        self.locked = False
        self.meta = None

    def __iter__(self):
        for cid in self.order:
            yield self.channels[cid]


def _parse_channel(cid, ch, check_channel):
    c = _Ctx("channel %s: " % cid)
    if not isinstance(ch, dict):
        raise ConfigError("channel %s: must be an object, got %s" % (cid, _tname(ch)))
    cfg = ChannelConfig(cid, ch)
    cfg.display_name = c.string(ch, "display_name", "display_name", required=True)
    cfg._set("description", c.string(ch, "description", "description"))

    props = c.obj(ch, "properties", "properties", required=True)
    dt = c.string(props, "data_type", "properties.data_type", required=True)
    if not _upper_ident(dt):
        c.fail("properties.data_type", "must be upper-case letters and _, got %s" % _q(dt))
    cfg.data_type = dt
    unit = c.string(props, "data_unit", "properties.data_unit", nullable=True)
    if unit is not None and not _upper_ident(unit):
        c.fail("properties.data_unit", "must be upper-case letters and _, got %s" % _q(unit))
    cfg._set("data_unit", unit)
    pt = c.string(props, "primitive_type", "properties.primitive_type")
    if pt is not None and pt not in PRIMITIVE_TYPES:
        c.fail("properties.primitive_type", "must be one of %s, got %s" % (", ".join(PRIMITIVE_TYPES), _q(pt)))
    cfg._set("primitive_type", pt)
    prec = props.get("precision")
    if prec is not None:
        prec = _integral(props["precision"])
        if prec is None:
            c.fail("properties.precision", "must be an integer, got %s" % _q(props["precision"]))
        if prec < 0 or prec > 15:
            c.fail("properties.precision", "must be 0..15, got %d" % prec)
    cfg._set("precision", prec)
    cfg._set("locked", c.boolean(props, "locked", "properties.locked"))
    cfg._set("control", c.boolean(props, "control", "properties.control"))
    cfg._set("device_diagnostic", c.boolean(props, "device_diagnostic", "properties.device_diagnostic"))
    cfg._set("min", c.number(props, "min", "properties.min"))
    cfg._set("max", c.number(props, "max", "properties.max"))

    pc = c.obj(ch, "protocol_config", "protocol_config")
    if pc is None:
        pc = {}
    sr = c.rate(pc, "sample_rate", "protocol_config.sample_rate")
    rr = c.rate(pc, "report_rate", "protocol_config.report_rate")
    if rr is None:
        rr = sr if sr is not None else DEFAULT_REPORT_RATE
    if sr is None:
        sr = rr
    cfg.sample_rate = sr
    cfg.report_rate = rr
    cfg._set("timeout", c.rate(pc, "timeout", "protocol_config.timeout", nullable=True))
    cfg._set("report_on_change", c.boolean(pc, "report_on_change", "protocol_config.report_on_change"))
    tol = c.number(pc, "report_on_change_tolerance", "protocol_config.report_on_change_tolerance")
    if tol is not None and tol < 0:
        c.fail("protocol_config.report_on_change_tolerance", "must be >= 0, got %s" % _q(tol))
    cfg._set("report_on_change_tolerance", tol or 0)
    ds = c.string(pc, "down_sample", "protocol_config.down_sample")
    if ds is not None and ds not in DOWN_SAMPLE:
        c.fail("protocol_config.down_sample", "must be one of %s, got %s" % (", ".join(DOWN_SAMPLE), _q(ds)))
    cfg._set("down_sample", ds or "ACT")
    app = c.string(pc, "application", "protocol_config.application")
    if app == "":
        c.fail("protocol_config.application", "must not be empty")
    cfg._set("application", app)
    cfg._set("interface", c.string(pc, "interface", "protocol_config.interface", nullable=True))
    asc = c.obj(pc, "app_specific_config", "protocol_config.app_specific_config")
    cfg.app_specific_config = asc if asc is not None else {}

    ir = c.obj(pc, "input_raw", "protocol_config.input_raw")
    if ir is not None:
        cfg.input_raw_min = c.number(ir, "min", "protocol_config.input_raw.min", nullable=False)
        cfg.input_raw_max = c.number(ir, "max", "protocol_config.input_raw.max", nullable=False)
        u = ir.get("unit")
        if u is not None and not isinstance(u, str) and not is_number(u):
            c.fail("protocol_config.input_raw.unit", "must be a string, got %s" % _tname(u))
        cfg._set("input_raw_unit", u)
        rmin, rmax = cfg.input_raw_min, cfg.input_raw_max
        if (rmin is None) != (rmax is None):
            c.fail("protocol_config.input_raw", "needs both min and max")
        if rmin is not None:
            if rmin == rmax:
                c.fail("protocol_config.input_raw", "min and max must differ, both are %s" % _q(rmin))
            if cfg.min is None or cfg.max is None:
                c.fail("protocol_config.input_raw", "mapping needs properties.min and properties.max")
    cfg._set("multiplier", c.number(pc, "multiplier", "protocol_config.multiplier", nullable=False))
    cfg._set("offset", c.number(pc, "offset", "protocol_config.offset", nullable=False))

    cp = c.obj(ch, "control_properties", "control_properties")
    if cp is not None:
        rng = c.obj(cp, "range", "control_properties.range")
        if rng is not None:
            cfg.control_min = c.number(rng, "min", "control_properties.range.min")
            cfg.control_max = c.number(rng, "max", "control_properties.range.max")
            if cfg.control_min is not None and cfg.control_max is not None and cfg.control_min > cfg.control_max:
                c.fail(
                    "control_properties.range",
                    "min %s is greater than max %s" % (_q(cfg.control_min), _q(cfg.control_max)),
                )
        if "enum" in cp and cp["enum"] is not None:
            en = cp["enum"]
            if not isinstance(en, list):
                c.fail("control_properties.enum", "must be an array, got %s" % _tname(en))
            for k in range(len(en)):
                if not isinstance(en[k], str):
                    c.fail("control_properties.enum[%d]" % k, "must be a string, got %s" % _q(en[k]))
            cfg._set("control_enum", en)

    if app is not None and check_channel is not None:
        msg = check_channel(app, cid, cfg.app_specific_config)
        if msg:
            raise ConfigError("channel %s: %s" % (cid, msg))
    return cfg


def parse_config_io(obj_or_text, check_channel=None):
    """Validate a config_io document (dict or JSON text) and return a ConfigIO."""
    doc = obj_or_text
    order = None
    if isinstance(doc, (str, bytes, bytearray)):
        # MicroPython dicts do not keep insertion order: the parser records
        # the channel ids' document order so both runtimes agree.
        doc, order = _parse(doc)
    if not isinstance(doc, dict):
        raise ConfigError("config_io must be a JSON object, got %s" % _tname(doc))
    c = _Ctx("")
    cio = ConfigIO(doc)
    if "last_edited" not in doc or doc["last_edited"] is None:
        raise ConfigError("last_edited is required")
    le = doc["last_edited"]
    # The schema says string; its own description shows epoch ms (1638311186313) too.
    if not isinstance(le, str) and not is_number(le):
        c.fail("last_edited", "must be a string, got %s" % _tname(le))
    cio.last_edited = le
    cio.last_editor = c.string(doc, "last_editor", "last_editor")
    meta = doc.get("meta")
    if meta is not None and not isinstance(meta, (str, dict)):
        c.fail("meta", "must be a string or an object, got %s" % _tname(meta))
    cio.meta = meta
    cio.locked = c.boolean(doc, "locked", "locked")
    chans = c.obj(doc, "channels", "channels", required=True)
    ids = order if order is not None and len(order) == len(chans) else list(chans)
    for cid in ids:
        if not valid_channel_id(cid):
            raise ConfigError(
                "channel %s: invalid channel id (allowed: letters, digits, space, tab and -+#%%()/:_)" % _q(cid)
            )
        if cid == "__error":
            raise ConfigError('channel "__error": reserved name (data_in error object)')
        cfg = _parse_channel(cid, chans[cid], check_channel)
        cio.channels[cid] = cfg
        cio.order.append(cid)
    return cio
