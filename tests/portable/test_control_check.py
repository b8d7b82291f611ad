# data_out request checks against the channel's config.
from uedge.config.config_io import parse_config_io
from uedge.pipeline.control import check_request


def _cfg(dt="NUMBER", control=True, cp=None, props=None):
    ch = {"display_name": "c", "properties": {"data_type": dt, "control": control}}
    for k in props or {}:
        ch["properties"][k] = props[k]
    if cp is not None:
        ch["control_properties"] = cp
    return parse_config_io({"last_edited": "x", "channels": {"009": ch}}).channels["009"]


def test_not_a_control_channel():
    assert check_request(_cfg(control=False), 1) == (None, "channel 009 is not a control channel")


def test_boolean_coercion():
    c = _cfg("BOOLEAN")
    for v in (True, 1, "true", "on", "1", "ON"):
        assert check_request(c, v) == (True, None), v
    for v in (False, 0, "false", "off", "0"):
        assert check_request(c, v) == (False, None), v
    assert check_request(c, "maybe") == (None, "channel 009: expected a boolean (true/false, 1/0, on/off), got 'maybe'")


def test_numeric_and_range():
    c = _cfg("TEMPERATURE", cp={"range": {"min": 20, "max": 40}})
    assert check_request(c, 25) == (25, None)
    assert check_request(c, "30.5") == (30.5, None)
    assert check_request(c, 20) == (20, None) and check_request(c, 40) == (40, None)
    assert check_request(c, 19.5) == (None, "channel 009: 19.5 is below control_properties.range.min 20")
    assert check_request(c, 41) == (None, "channel 009: 41 is above control_properties.range.max 40")
    assert check_request(c, "hot") == (None, "channel 009: expected a number, got 'hot'")
    assert check_request(c, True) == (None, "channel 009: expected a number, got True")
    assert check_request(c, None) == (None, "channel 009: expected a number, got None")
    assert check_request(c, [1]) == (None, "channel 009: expected a number, got [1]")
    only_min = _cfg(cp={"range": {"min": 0}})
    assert check_request(only_min, 1e9) == (1e9, None)
    assert check_request(only_min, -1) == (None, "channel 009: -1 is below control_properties.range.min 0")


def test_properties_min_max_not_enforced():
    c = _cfg(props={"min": 0, "max": 10})
    assert check_request(c, 50) == (50, None)


def test_enum():
    c = _cfg("STRING", cp={"enum": ["open", "close", "half", "auto"]})
    assert check_request(c, "half") == ("half", None)
    assert check_request(c, "ajar") == (None, "channel 009: ajar is not one of open, close, half, auto")
    assert check_request(c, 5) == (None, "channel 009: 5 is not one of open, close, half, auto")
    n = _cfg(cp={"enum": ["1", "2.5"]})
    assert check_request(n, 2.5) == (2.5, None)
    assert check_request(n, "1") == (1, None)
    assert check_request(n, 3) == (None, "channel 009: 3 is not one of 1, 2.5")
    b = _cfg("BOOLEAN", cp={"enum": ["true"]})
    assert check_request(b, "on") == (True, None)
    assert check_request(b, 0) == (None, "channel 009: False is not one of true")


def test_string_json_location():
    s = _cfg("STRING")
    assert check_request(s, "x") == ("x", None)
    assert check_request(s, 12) == ("12", None)
    assert check_request(s, None) == (None, "channel 009: expected a string, got None")
    j = _cfg("JSON")
    assert check_request(j, {"mode": [1, 2]}) == ({"mode": [1, 2]}, None)
    loc = _cfg("LOCATION")
    assert check_request(loc, {"lat": 1.5, "lng": 2}) == ({"lat": 1.5, "lng": 2}, None)
    assert check_request(loc, [1, 2]) == ({"lat": 1, "lng": 2}, None)
    assert check_request(loc, {"lat": 100, "lng": 2}) == (None, "channel 009: location lat must be -90..90, got 100")
