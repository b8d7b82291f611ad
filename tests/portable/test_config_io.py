# config_io parsing: the seed's examples, defaults, and every rejection message.
from ptest import raises

from uedge.config.config_io import parse_config_io
from uedge.config.fields import valid_channel_id
from uedge.config.json_reader import ConfigError


def _data(name):
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/data/" + name) as f:
        return f.read()


def _doc(channel, cid="002"):
    return {"last_edited": "2024-01-01T00:00:00+00:00", "channels": {cid: channel}}


def _ch(props=None, pc=None, cp=None):
    ch = {"display_name": "T", "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS"}}
    if props:
        for k in props:
            ch["properties"][k] = props[k]
    if pc is not None:
        ch["protocol_config"] = pc
    if cp is not None:
        ch["control_properties"] = cp
    return ch


def _err(doc):
    return str(raises(ConfigError, parse_config_io, doc))


def test_seed_basic_example_loads():
    cio = parse_config_io(_data("seed_config_io_basic.json"))
    assert cio.last_edited == "2018-03-28T13:27:39+00:00 "
    assert cio.meta == {}
    assert cio.locked is False
    assert cio.order == ["001"]
    c = cio.channels["001"]
    assert c.display_name == "Temperature"
    assert c.description == "Temperature Sensor Reading"
    assert c.data_type == "TEMPERATURE" and c.data_unit == "DEG_CELSIUS" and c.precision == 2
    # defaults
    assert c.report_rate == 60000 and c.sample_rate == 60000
    assert c.down_sample == "ACT" and c.report_on_change is False
    assert c.timeout is None and c.application is None and c.app_specific_config == {}
    assert c.control is False and c.locked is False and c.device_diagnostic is False
    assert c.source_state is None
    assert c.raw is None  # kept only for a locked channel


def test_seed_full_example_loads():
    cio = parse_config_io(_data("seed_config_io_full.json"))
    assert cio.last_editor == "user"
    assert cio.order == ["001", "002", "003", "004", "005"]
    assert [c.id for c in cio] == cio.order
    c1 = cio.channels["001"]
    assert c1.data_type == "BOOLEAN" and c1.data_unit is None
    assert c1.sample_rate == 5000 and c1.report_rate == 5000 and c1.timeout == 60000
    c2 = cio.channels["002"]
    assert c2.min == 16 and c2.max == 35 and c2.locked is True and c2.device_diagnostic is False
    assert c2.sample_rate == 2000 and c2.report_rate == 10000 and c2.down_sample == "AVG"
    assert c2.application == "Modbus_RTU" and c2.interface == "/dev/tty0/"
    # inverted input_raw (max 0, min 20) is a decreasing mapping; unit is a string
    assert c2.input_raw_min == 20 and c2.input_raw_max == 0 and c2.input_raw_unit == "mA"
    assert c2.multiplier is None and c2.offset is None
    c3 = cio.channels["003"]
    assert c3.data_type == "LOCATION" and c3.data_unit == "LAT_LONG"
    assert c3.report_rate == 60000 and c3.sample_rate == 60000 and c3.timeout == 360000
    c4 = cio.channels["004"]
    assert c4.control is True and c4.data_type == "BOOLEAN"
    c5 = cio.channels["005"]
    assert c5.control is True and c5.control_min == 30 and c5.control_max == 100
    assert c5.control_enum is None


def test_accepts_dict_and_bytes():
    cio = parse_config_io(_doc(_ch()))
    assert cio.order == ["002"]
    cio = parse_config_io(b'{"last_edited": "x", "channels": {}}')
    assert cio.channels == {}


def test_full_field_set():
    ch = _ch(
        {"precision": 1, "locked": True, "control": True, "min": 0, "max": 100.5,
         "device_diagnostic": True, "primitive_type": "NUMERIC"},
        {"sample_rate": 1000, "report_rate": 5000, "timeout": 20000, "report_on_change": True,
         "report_on_change_tolerance": 0.5, "down_sample": "MAX", "application": "Simulated",
         "interface": None, "app_specific_config": {"function": "sine"},
         "input_raw": {"min": 4, "max": 20, "unit": "mA"}, "multiplier": 2, "offset": -1},
        {"range": {"min": 1, "max": 9}, "enum": ["1", "5", "9"]},
    )
    doc = _doc(ch)
    doc["last_editor"] = "device"
    doc["meta"] = "oem data"
    doc["locked"] = True
    cio = parse_config_io(doc)
    assert cio.meta == "oem data" and cio.locked is True and cio.last_editor == "device"
    c = cio.channels["002"]
    assert c.precision == 1 and c.locked and c.control and c.device_diagnostic
    assert c.primitive_type == "NUMERIC" and c.min == 0 and c.max == 100.5
    assert c.sample_rate == 1000 and c.report_rate == 5000 and c.timeout == 20000
    assert c.report_on_change is True and c.report_on_change_tolerance == 0.5
    assert c.down_sample == "MAX" and c.application == "Simulated" and c.interface is None
    assert c.app_specific_config == {"function": "sine"}
    assert c.input_raw_min == 4 and c.input_raw_max == 20
    assert c.multiplier == 2 and c.offset == -1
    assert c.control_min == 1 and c.control_max == 9 and c.control_enum == ["1", "5", "9"]


def test_rate_defaults():
    c = parse_config_io(_doc(_ch(pc={"sample_rate": 500}))).channels["002"]
    assert c.sample_rate == 500 and c.report_rate == 500
    c = parse_config_io(_doc(_ch(pc={"report_rate": 7000}))).channels["002"]
    assert c.sample_rate == 7000 and c.report_rate == 7000
    c = parse_config_io(_doc(_ch(pc={}))).channels["002"]
    assert c.sample_rate == 60000 and c.report_rate == 60000


def test_last_edited_epoch_ms_and_nulls():
    doc = _doc(_ch({"data_unit": None, "precision": None, "min": None}, {"timeout": None}))
    doc["last_edited"] = 1638311186313
    c = parse_config_io(doc).channels["002"]
    assert c.data_unit is None and c.precision is None and c.min is None and c.timeout is None


def test_channel_id_pattern():
    for good in ("001", "humidity", "a b", "x\ty", "-+#%()/:_", "Zz9"):
        assert valid_channel_id(good), good
    for bad in ("", "a.b", "caf\u00e9", "a,b", "a\nb", "x*", "[1]", '"'):
        assert not valid_channel_id(bad), bad
    m = _err(_doc(_ch(), cid="temp.1"))
    assert m.startswith('channel "temp.1": invalid channel id'), m
    assert _err(_doc(_ch(), cid="")).startswith('channel "": invalid channel id')
    assert _err(_doc(_ch(), cid="__error")) == 'channel "__error": reserved name (data_in error object)'


def test_top_level_errors():
    assert _err([]) == "config_io must be a JSON object, got array"
    assert _err({"channels": {}}) == "last_edited is required"
    assert _err({"last_edited": True, "channels": {}}) == "last_edited must be a string, got boolean"
    assert _err({"last_edited": "x"}) == "channels is required"
    assert _err({"last_edited": "x", "channels": []}) == "channels must be an object, got array"
    assert _err({"last_edited": "x", "channels": {}, "locked": "no"}) == 'locked must be true or false, got "no"'
    assert _err({"last_edited": "x", "channels": {}, "meta": 5}) == "meta must be a string or an object, got number"
    assert _err({"last_edited": "x", "channels": {}, "last_editor": 1}) == "last_editor must be a string, got number"


def test_channel_errors():
    cases = [
        ({"display_name": "x"}, "channel 002: properties is required"),
        ({"properties": {"data_type": "X"}}, "channel 002: display_name is required"),
        ({"display_name": 5, "properties": {"data_type": "X"}}, "channel 002: display_name must be a string, got number"),
        ({"display_name": "x", "description": [], "properties": {"data_type": "X"}},
         "channel 002: description must be a string, got array"),
        ({"display_name": "x", "properties": {}}, "channel 002: properties.data_type is required"),
        ({"display_name": "x", "properties": {"data_type": "temp"}},
         'channel 002: properties.data_type must be upper-case letters and _, got "temp"'),
        ({"display_name": "x", "properties": []}, "channel 002: properties must be an object, got array"),
        ("nope", "channel 002: must be an object, got string"),
    ]
    for ch, msg in cases:
        assert _err(_doc(ch)) == msg, (_err(_doc(ch)), msg)


def test_property_errors():
    cases = [
        ({"data_unit": "deg"}, 'channel 002: properties.data_unit must be upper-case letters and _, got "deg"'),
        ({"precision": 1.5}, "channel 002: properties.precision must be an integer, got 1.5"),
        ({"precision": True}, "channel 002: properties.precision must be an integer, got true"),
        ({"precision": -1}, "channel 002: properties.precision must be 0..15, got -1"),
        ({"locked": 1}, "channel 002: properties.locked must be true or false, got 1"),
        ({"control": "true"}, 'channel 002: properties.control must be true or false, got "true"'),
        ({"device_diagnostic": None}, "channel 002: properties.device_diagnostic must be true or false, got null"),
        ({"min": "0"}, 'channel 002: properties.min must be a number, got "0"'),
        ({"max": False}, "channel 002: properties.max must be a number, got false"),
        ({"primitive_type": "FLOAT"},
         'channel 002: properties.primitive_type must be one of BOOLEAN, NUMERIC, STRING, JSON, got "FLOAT"'),
    ]
    for props, msg in cases:
        got = _err(_doc(_ch(props)))
        assert got == msg, (got, msg)


def test_protocol_config_errors():
    cases = [
        ({"down_sample": "MEAN"}, 'channel 002: protocol_config.down_sample must be one of MIN, MAX, AVG, ACT, got "MEAN"'),
        ({"down_sample": 1}, "channel 002: protocol_config.down_sample must be a string, got number"),
        ({"sample_rate": 0}, "channel 002: protocol_config.sample_rate must be a positive number of milliseconds, got 0"),
        ({"report_rate": -5}, "channel 002: protocol_config.report_rate must be a positive number of milliseconds, got -5"),
        ({"report_rate": 1.5}, "channel 002: protocol_config.report_rate must be an integer number of milliseconds, got 1.5"),
        ({"timeout": 0}, "channel 002: protocol_config.timeout must be a positive number of milliseconds, got 0"),
        ({"timeout": "60s"}, 'channel 002: protocol_config.timeout must be an integer number of milliseconds, got "60s"'),
        ({"report_on_change": "yes"}, 'channel 002: protocol_config.report_on_change must be true or false, got "yes"'),
        ({"report_on_change_tolerance": -1}, "channel 002: protocol_config.report_on_change_tolerance must be >= 0, got -1"),
        ({"application": 3}, "channel 002: protocol_config.application must be a string, got number"),
        ({"application": ""}, "channel 002: protocol_config.application must not be empty"),
        ({"interface": 3}, "channel 002: protocol_config.interface must be a string, got number"),
        ({"app_specific_config": "a=1"}, "channel 002: protocol_config.app_specific_config must be an object, got string"),
        ({"input_raw": 5}, "channel 002: protocol_config.input_raw must be an object, got number"),
        ({"input_raw": {"min": "4", "max": 20}}, 'channel 002: protocol_config.input_raw.min must be a number, got "4"'),
        ({"input_raw": {"min": 4}}, "channel 002: protocol_config.input_raw needs both min and max"),
        ({"input_raw": {"min": 4, "max": 4}}, "channel 002: protocol_config.input_raw min and max must differ, both are 4"),
        ({"input_raw": {"min": 4, "max": 20}}, "channel 002: protocol_config.input_raw mapping needs properties.min and properties.max"),
        ({"input_raw": {"unit": []}}, "channel 002: protocol_config.input_raw.unit must be a string, got array"),
        ({"multiplier": "2"}, 'channel 002: protocol_config.multiplier must be a number, got "2"'),
        ({"offset": None}, "channel 002: protocol_config.offset must be a number, got null"),
    ]
    for pc, msg in cases:
        got = _err(_doc(_ch(pc=pc)))
        assert got == msg, (got, msg)
    got = _err(_doc({"display_name": "x", "properties": {"data_type": "X"}, "protocol_config": []}))
    assert got == "channel 002: protocol_config must be an object, got array"


def test_control_properties_errors():
    cases = [
        ({"range": {"min": 10, "max": 1}}, "channel 002: control_properties.range min 10 is greater than max 1"),
        ({"range": {"min": "a"}}, 'channel 002: control_properties.range.min must be a number, got "a"'),
        ({"range": 3}, "channel 002: control_properties.range must be an object, got number"),
        ({"enum": "open"}, "channel 002: control_properties.enum must be an array, got string"),
        ({"enum": ["open", 3]}, "channel 002: control_properties.enum[1] must be a string, got 3"),
    ]
    for cp, msg in cases:
        got = _err(_doc(_ch(cp=cp)))
        assert got == msg, (got, msg)
    c = parse_config_io(_doc(_ch(cp={"range": {"min": 5, "max": 5}}))).channels["002"]
    assert c.control_min == 5 and c.control_max == 5


def test_check_channel_hook():
    seen = []

    def check(app, cid, asc):
        seen.append((app, cid))
        if asc.get("register") == 0:
            return "app_specific_config.register must be 1..9999, got 0"
        return None

    doc = _doc(_ch(pc={"application": "Modbus_RTU", "app_specific_config": {"register": 0}}))
    m = str(raises(ConfigError, parse_config_io, doc, check))
    assert m == "channel 002: app_specific_config.register must be 1..9999, got 0"
    assert seen == [("Modbus_RTU", "002")]
    # channels without an application are not passed to the hook
    parse_config_io(_doc(_ch()), check)
    assert len(seen) == 1


def test_duplicate_channel_ids_in_text():
    text = '{"last_edited": "x", "channels": {\n "001": {"display_name": "a", "properties": {"data_type": "X"}},\n "001": {"display_name": "b", "properties": {"data_type": "X"}}}}'
    m = str(raises(ConfigError, parse_config_io, text))
    assert m == 'duplicate channel id "001" at line 3 column 2 (char 101)', m


def test_document_order_from_text():
    text = '{"last_edited": "x", "last_editor": "mm", "channels": {"zz": {"display_name": "a", "properties": {"data_type": "X"}}, "aa": {"display_name": "b", "properties": {"data_type": "X"}}, "mm": {"display_name": "c", "properties": {"data_type": "X"}}}}'
    assert parse_config_io(text).order == ["zz", "aa", "mm"]


def test_first_error_wins_and_no_partial_state():
    doc = _doc(_ch(pc={"down_sample": "AVG"}))
    doc["channels"]["003"] = {"display_name": "x", "properties": {"data_type": "X"}, "protocol_config": {"sample_rate": 0}}
    m = _err(doc)
    assert m == "channel 003: protocol_config.sample_rate must be a positive number of milliseconds, got 0"


def test_channel_config_fields_cover_what_parsing_sets():
    # same() compares FIELDS: every field the parser can set must be listed
    from uedge.config.model import FIELDS

    cio = parse_config_io(_data("seed_config_io_full.json"))
    extra = ("id", "raw", "source_state")
    for c in cio:
        for k in c.__dict__:
            assert k in FIELDS or k in extra, k


def test_same_config_whatever_the_text():
    a = parse_config_io(_data("seed_config_io_full.json"))
    b = parse_config_io(_data("seed_config_io_full.json").replace(": ", ":   "))
    assert a.same(b) and b.same(a)
    c = parse_config_io(_data("seed_config_io_full.json").replace('"last_editor": "user"', '"last_editor": "other"'))
    assert not a.same(c)
    doc = _doc(_ch(pc={"sample_rate": 1000}))
    one = parse_config_io(doc)
    assert one.same(parse_config_io(doc))
    doc["channels"]["002"]["protocol_config"]["sample_rate"] = 2000
    two = parse_config_io(doc)
    assert not one.same(two) and not one.channels["002"].same(two.channels["002"])
    doc["channels"]["003"] = _ch()
    assert not two.same(parse_config_io(doc))


def test_raw_kept_only_for_locked_channels():
    doc = _doc(_ch(props={"locked": True}))
    doc["channels"]["003"] = _ch()
    cio = parse_config_io(doc)
    assert cio.channels["002"].raw["properties"]["locked"] is True
    assert cio.channels["003"].raw is None
