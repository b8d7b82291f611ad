"""config_io: parsing and validation (config_applications: config_applications.py).

The ExoSense Data IO Schema is the specification. Validation is written by
hand (no jsonschema on a board) and every message names the channel and the
field, e.g. ``channel 002: protocol_config.down_sample must be one of MIN,
MAX, AVG, ACT, got "MEAN"``.
The text is read by json_reader (positions in errors, duplicate keys caught).
On a board uedge.config.load runs the reader before this module is loaded:
the heap holds the text and the reader, then the tree and the validators,
never all four.
"""


from uedge.config.fields import (
    Fields,
    integral,
    is_number,
    quoted,
    type_name,
    upper_ident,
    valid_channel_id,
)
from uedge.config.model import ChannelConfig, ConfigError, ConfigIO  # noqa: F401  (re-exported)

DOWN_SAMPLE = ("MIN", "MAX", "AVG", "ACT")
PRIMITIVE_TYPES = ("BOOLEAN", "NUMERIC", "STRING", "JSON")
DEFAULT_REPORT_RATE = 60000


# Each part of a channel is read by a function of its own: a board loads this
# module's bytecode one function to a block, and a fragmented heap finds
# blocks of a few hundred bytes where it may have none of 1.4 KB.


def _parse_channel(cid, ch, check_channel):
    c = Fields("channel %s: " % cid)  # one per channel; each part sets its section
    if not isinstance(ch, dict):
        raise ConfigError("channel %s: must be an object, got %s" % (cid, type_name(ch)))
    cfg = ChannelConfig(cid)
    cfg.display_name = c.string(ch, "display_name", required=True)
    cfg._set("description", c.string(ch, "description"))
    _properties(c, cfg, c.obj(ch, "properties", required=True))
    c.section = ""
    pc = c.obj(ch, "protocol_config")
    app = _protocol_config(c, cfg, pc if pc is not None else {})
    c.section = ""
    cp = c.obj(ch, "control_properties")
    if cp is not None:
        _control_properties(c, cfg, cp)
    if app is not None and check_channel is not None:
        msg = check_channel(app, cid, cfg.app_specific_config)
        if msg:
            raise ConfigError("channel %s: %s" % (cid, msg))
    if cfg.locked:
        cfg.raw = ch  # kept as configured on the device (see ChannelConfig)
    return cfg


def _properties(c, cfg, props):
    c.section = "properties."
    dt = c.string(props, "data_type", required=True)
    if not upper_ident(dt):
        c.bad("data_type", "must be upper-case letters and _, got %s" % quoted(dt))
    cfg.data_type = dt
    unit = c.string(props, "data_unit", nullable=True)
    if unit is not None and not upper_ident(unit):
        c.bad("data_unit", "must be upper-case letters and _, got %s" % quoted(unit))
    cfg._set("data_unit", unit)
    pt = c.string(props, "primitive_type")
    if pt is not None and pt not in PRIMITIVE_TYPES:
        c.bad("primitive_type", "must be one of %s, got %s" % (", ".join(PRIMITIVE_TYPES), quoted(pt)))
    cfg._set("primitive_type", pt)
    prec = props.get("precision")
    if prec is not None:
        prec = integral(props["precision"])
        if prec is None:
            c.bad("precision", "must be an integer, got %s" % quoted(props["precision"]))
        if prec < 0 or prec > 15:
            c.bad("precision", "must be 0..15, got %d" % prec)
    cfg._set("precision", prec)
    cfg._set("locked", c.boolean(props, "locked"))
    cfg._set("control", c.boolean(props, "control"))
    cfg._set("device_diagnostic", c.boolean(props, "device_diagnostic"))
    cfg._set("min", c.number(props, "min"))
    cfg._set("max", c.number(props, "max"))


def _protocol_config(c, cfg, pc):
    """-> the application name (or None)."""
    c.section = "protocol_config."
    sr = c.rate(pc, "sample_rate")
    rr = c.rate(pc, "report_rate")
    if rr is None:
        rr = sr if sr is not None else DEFAULT_REPORT_RATE
    if sr is None:
        sr = rr
    cfg.sample_rate = sr
    cfg.report_rate = rr
    cfg._set("timeout", c.rate(pc, "timeout", nullable=True))
    cfg._set("report_on_change", c.boolean(pc, "report_on_change"))
    tol = c.number(pc, "report_on_change_tolerance")
    if tol is not None and tol < 0:
        c.bad("report_on_change_tolerance", "must be >= 0, got %s" % quoted(tol))
    cfg._set("report_on_change_tolerance", tol or 0)
    ds = c.string(pc, "down_sample")
    if ds is not None and ds not in DOWN_SAMPLE:
        c.bad("down_sample", "must be one of %s, got %s" % (", ".join(DOWN_SAMPLE), quoted(ds)))
    cfg._set("down_sample", ds or "ACT")
    app = c.string(pc, "application")
    if app == "":
        c.bad("application", "must not be empty")
    cfg._set("application", app)
    cfg._set("interface", c.string(pc, "interface", nullable=True))
    asc = c.obj(pc, "app_specific_config")
    cfg.app_specific_config = asc if asc is not None else {}
    ir = c.obj(pc, "input_raw")
    if ir is not None:
        c.section = "protocol_config.input_raw."
        _input_raw(c, cfg, ir)
        c.section = "protocol_config."
    cfg._set("multiplier", c.number(pc, "multiplier", nullable=False))
    cfg._set("offset", c.number(pc, "offset", nullable=False))
    return app


def _input_raw(c, cfg, ir):
    cfg.input_raw_min = c.number(ir, "min", nullable=False)
    cfg.input_raw_max = c.number(ir, "max", nullable=False)
    u = ir.get("unit")
    if u is not None and not isinstance(u, str) and not is_number(u):
        c.bad("unit", "must be a string, got %s" % type_name(u))
    cfg._set("input_raw_unit", u)
    rmin, rmax = cfg.input_raw_min, cfg.input_raw_max
    if (rmin is None) != (rmax is None):
        c.fail("protocol_config.input_raw", "needs both min and max")
    if rmin is not None:
        if rmin == rmax:
            c.fail("protocol_config.input_raw", "min and max must differ, both are %s" % quoted(rmin))
        if cfg.min is None or cfg.max is None:
            c.fail("protocol_config.input_raw", "mapping needs properties.min and properties.max")


def _control_properties(c, cfg, cp):
    c.section = "control_properties."
    rng = c.obj(cp, "range")
    if rng is not None:
        c.section = "control_properties.range."
        cfg.control_min = c.number(rng, "min")
        cfg.control_max = c.number(rng, "max")
        c.section = "control_properties."
        if cfg.control_min is not None and cfg.control_max is not None and cfg.control_min > cfg.control_max:
            c.bad("range", "min %s is greater than max %s" % (quoted(cfg.control_min), quoted(cfg.control_max)))
    if "enum" in cp and cp["enum"] is not None:
        en = cp["enum"]
        if not isinstance(en, list):
            c.bad("enum", "must be an array, got %s" % type_name(en))
        for k in range(len(en)):
            if not isinstance(en[k], str):
                c.bad("enum[%d]" % k, "must be a string, got %s" % quoted(en[k]))
        cfg._set("control_enum", en)


def parse_config_io(obj_or_text, check_channel=None):
    """Validate a config_io document (dict or JSON text) and return a ConfigIO."""
    doc = obj_or_text
    if isinstance(doc, (str, bytes, bytearray)):
        from uedge.config.json_reader import parse_ordered

        # MicroPython dicts do not keep insertion order: the parser records
        # the channel ids' document order so both runtimes agree.
        doc, order = parse_ordered(doc)
        return parse_tree(doc, order, check_channel)
    return parse_tree(doc, None, check_channel)


def parse_tree(doc, order=None, check_channel=None):
    """Validate a config_io document tree -> ConfigIO. order: the channel ids
    in document order, given with a tree json_reader.parse_ordered made; such
    a tree is the parser's own, and each channel's part is dropped from it
    once the channel is built (a document passed in is left alone)."""
    own = order is not None
    if not isinstance(doc, dict):
        raise ConfigError("config_io must be a JSON object, got %s" % type_name(doc))
    c = Fields("")
    cio = ConfigIO()
    if "last_edited" not in doc or doc["last_edited"] is None:
        raise ConfigError("last_edited is required")
    le = doc["last_edited"]
    # The schema says string; its own description shows epoch ms (1638311186313) too.
    if not isinstance(le, str) and not is_number(le):
        c.fail("last_edited", "must be a string, got %s" % type_name(le))
    cio.last_edited = le
    cio.last_editor = c.string(doc, "last_editor")
    meta = doc.get("meta")
    if meta is not None and not isinstance(meta, (str, dict)):
        c.fail("meta", "must be a string or an object, got %s" % type_name(meta))
    cio.meta = meta
    cio.locked = c.boolean(doc, "locked")
    chans = c.obj(doc, "channels", required=True)
    ids = order if order is not None and len(order) == len(chans) else list(chans)
    for cid in ids:
        if not valid_channel_id(cid):
            raise ConfigError(
                "channel %s: invalid channel id (allowed: letters, digits, space, tab and -+#%%()/:_)" % quoted(cid)
            )
        if cid == "__error":
            raise ConfigError('channel "__error": reserved name (data_in error object)')
        cfg = _parse_channel(cid, chans[cid], check_channel)
        if own:
            # what the model keeps of it stays referenced; the rest of the
            # channel's tree can go before the next channel is built (a
            # board's heap holds the whole document tree less and less)
            chans[cid] = None
        cio.channels[cid] = cfg
        cio.order.append(cid)
    return cio
