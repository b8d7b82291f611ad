# The per-channel pipeline: conversions, down-sampling, report on change, timeouts, types.
from ptest import FLOAT_MAX, approx

from uedge.pipeline.channel import Channel
from uedge.pipeline.control import to_raw
from uedge.pipeline.convert import to_bool, to_number
from uedge.config.config_io import parse_config_io


def _cfg(props=None, pc=None, dt="TEMPERATURE"):
    ch = {"display_name": "c", "properties": {"data_type": dt}}
    for k in props or {}:
        ch["properties"][k] = (props or {})[k]
    if pc is not None:
        ch["protocol_config"] = pc
    return parse_config_io({"last_edited": "x", "channels": {"c1": ch}}).channels["c1"]


def _run(ch, samples, now=0):
    for s in samples:
        ch.sample(s, now)
    values = {}
    errors = {}
    ch.report(now, 1000, values, errors)
    return values, errors


def _one(ch, samples, now=0):
    values, errors = _run(ch, samples, now)
    return values.get("c1", "<none>")


def test_input_raw_mapping_4_20_ma():
    ch = Channel(_cfg({"min": 0, "max": 100}, {"input_raw": {"min": 4, "max": 20, "unit": "mA"}}))
    assert approx(_one(ch, [4]), 0)
    assert approx(_one(ch, [20]), 100)
    assert approx(_one(ch, [12]), 50)
    assert approx(_one(ch, [0]), -25)  # outside the raw range extrapolates


def test_input_raw_inverted_mapping_from_seed():
    # seed channel 002: input_raw min 20, max 0 onto properties 16..35
    ch = Channel(_cfg({"min": 16, "max": 35}, {"input_raw": {"max": 0, "min": 20, "unit": "mA"}}))
    assert approx(_one(ch, [20]), 16)
    assert approx(_one(ch, [0]), 35)
    assert approx(_one(ch, [10]), 25.5)


def test_multiplier_then_offset():
    ch = Channel(_cfg(pc={"multiplier": 0.5, "offset": 10}))
    assert approx(_one(ch, [100]), 60)  # 100 * 0.5 + 10
    ch = Channel(_cfg(pc={"multiplier": 3}))
    assert _one(ch, [7]) == 21
    ch = Channel(_cfg(pc={"offset": -273}))
    assert _one(ch, [300]) == 27


def test_mapping_then_multiplier_then_offset():
    # raw 12 mA -> 50 (mapping 4..20 -> 0..100), * 2 -> 100, + 1 -> 101
    ch = Channel(_cfg({"min": 0, "max": 100}, {"input_raw": {"min": 4, "max": 20}, "multiplier": 2, "offset": 1}))
    assert approx(_one(ch, [12]), 101)
    assert approx(to_raw(ch, 101), 12)  # what a data_out write sends to the source


def test_no_conversion_keeps_ints():
    ch = Channel(_cfg())
    v = _one(ch, [42])
    assert v == 42 and isinstance(v, int)


def test_numeric_strings_are_numbers():
    ch = Channel(_cfg())
    assert _one(ch, ["21.5"]) == 21.5
    assert _one(ch, [" 7 "]) == 7
    assert _one(ch, [b"3"]) == 3
    assert _one(ch, [True]) == 1


def test_precision():
    ch = Channel(_cfg({"precision": 2}))
    assert _one(ch, [3.14159]) == 3.14
    ch = Channel(_cfg({"precision": 0}))
    v = _one(ch, [2.7])
    assert v == 3 and isinstance(v, int)
    ch = Channel(_cfg({"precision": 1}, {"multiplier": 0.1}))
    assert _one(ch, [123]) == 12.3


def test_down_sample_modes():
    samples = [5, 1, 9, 3]
    for mode, want in (("MIN", 1), ("MAX", 9), ("AVG", 4.5), ("ACT", 3)):
        ch = Channel(_cfg(pc={"sample_rate": 1000, "report_rate": 4000, "down_sample": mode}))
        assert _one(ch, samples) == want, mode
        # the window restarts after each report
        assert _one(ch, [2]) == 2, mode
        assert _one(ch, []) == "<none>"


def test_default_down_sample_is_act():
    ch = Channel(_cfg(pc={"sample_rate": 1000, "report_rate": 3000}))
    assert _one(ch, [1, 2, 3]) == 3


def test_down_sample_avg_with_precision_rounds_after_averaging():
    ch = Channel(_cfg({"precision": 1}, {"down_sample": "AVG"}))
    assert _one(ch, [1.04, 1.04, 1.04]) == 1.0
    assert _one(ch, [1, 2, 2]) == 1.7


def test_down_sample_booleans():
    for mode, want in (("MIN", False), ("MAX", True), ("AVG", True), ("ACT", False)):
        ch = Channel(_cfg(pc={"down_sample": mode}, dt="BOOLEAN"))
        assert _one(ch, [True, 1, "on", 0]) is want, mode
    ch = Channel(_cfg(pc={"down_sample": "AVG"}, dt="BOOLEAN"))
    assert _one(ch, [0, 0, 1]) is False


def test_report_on_change():
    ch = Channel(_cfg(pc={"report_on_change": True}))
    assert _one(ch, [5]) == 5  # first value after start always goes
    assert _one(ch, [5]) == "<none>"
    assert _one(ch, [6]) == 6
    assert _one(ch, [6]) == "<none>"
    assert _one(ch, [5]) == 5


def test_report_on_change_tolerance():
    ch = Channel(_cfg(pc={"report_on_change": True, "report_on_change_tolerance": 0.5}))
    assert _one(ch, [10]) == 10
    assert _one(ch, [10.4]) == "<none>"
    assert _one(ch, [10.5]) == "<none>"  # not more than the tolerance from 10
    assert _one(ch, [10.6]) == 10.6
    assert _one(ch, [10.2]) == "<none>"
    assert _one(ch, [10.9]) == "<none>"
    assert _one(ch, [9.9]) == 9.9  # the reference is the last reported value (10.6)


def test_report_on_change_compares_rounded_values():
    ch = Channel(_cfg({"precision": 0}, {"report_on_change": True}))
    assert _one(ch, [1.2]) == 1
    assert _one(ch, [1.4]) == "<none>"
    assert _one(ch, [1.6]) == 2


def test_report_on_change_other_types():
    ch = Channel(_cfg(pc={"report_on_change": True}, dt="STRING"))
    assert _one(ch, ["a"]) == "a"
    assert _one(ch, ["a"]) == "<none>"
    assert _one(ch, ["b"]) == "b"
    ch = Channel(_cfg(pc={"report_on_change": True}, dt="BOOLEAN"))
    assert _one(ch, [1]) is True
    assert _one(ch, ["on"]) == "<none>"
    assert _one(ch, ["off"]) is False


def test_booleans():
    for raw in (True, 1, 2.5, "true", "ON", "yes", "1", " High ", b"on"):
        assert to_bool(raw) is True, raw
    for raw in (False, 0, 0.0, "false", "Off", "no", "0", "low"):
        assert to_bool(raw) is False, raw
    for raw in ("maybe", None, [], {}, float("nan")):
        assert to_bool(raw) is None, raw
    ch = Channel(_cfg(dt="BOOLEAN"))
    values, errors = _run(ch, ["maybe"])
    assert values == {} and errors == {"c1": "not a boolean: 'maybe'"}


def test_numbers():
    assert to_number("1e3") == 1000.0
    assert to_number("12") == 12
    for raw in ("abc", "", None, [], {}, float("nan"), float("inf"), "nan", "inf"):
        assert to_number(raw) is None, raw
    ch = Channel(_cfg())
    values, errors = _run(ch, [float("nan")])
    assert values == {} and errors == {"c1": "not a number: nan"}


def test_bad_sample_does_not_spoil_window():
    ch = Channel(_cfg(pc={"down_sample": "AVG"}))
    values, errors = _run(ch, [2, "x", 4])
    assert values == {"c1": 3.0} and errors == {}
    # last sample failed: value of the good ones plus the error
    values, errors = _run(ch, [2, "x"])
    assert values == {"c1": 2} and errors == {"c1": "not a number: 'x'"}


def test_string_json_location():
    ch = Channel(_cfg(dt="STRING"))
    assert _one(ch, ["good"]) == "good"
    assert _one(ch, [12]) == "12"
    assert _one(ch, [b"ok"]) == "ok"
    ch = Channel(_cfg(dt="JSON"))
    assert _one(ch, [{"a": [1, 2]}]) == {"a": [1, 2]}
    ch = Channel(_cfg(props={"primitive_type": "JSON"}, dt="STATUS_REPORT"))
    assert _one(ch, [[1, 2]]) == [1, 2]
    ch = Channel(_cfg(dt="LOCATION"))
    assert _one(ch, [{"lat": 43.650883, "lng": -96.201642}]) == {"lat": 43.650883, "lng": -96.201642}
    assert _one(ch, [(10, 20)]) == {"lat": 10, "lng": 20}
    for bad, msg in (({"lat": 91, "lng": 0}, "location lat must be -90..90, got 91"),
                     ({"lat": 0, "lng": 181}, "location lng must be -180..180, got 181"),
                     ({"lat": "1", "lng": 0}, "location lat must be a number"),
                     ({"lat": 1}, "location lng must be a number"),
                     ("1,2", "location must be an object with lat and lng"),
                     ((100, 0), "location lat must be -90..90, got 100")):
        values, errors = _run(ch, [bad])
        assert values == {} and errors == {"c1": msg}, (bad, errors)


def test_primitive_type_overrides_data_type():
    ch = Channel(_cfg(props={"primitive_type": "BOOLEAN"}, dt="VALVE_STATE"))
    assert _one(ch, ["on"]) is True
    ch = Channel(_cfg(props={"primitive_type": "STRING"}, dt="ERROR_CODE"))
    assert _one(ch, [404]) == "404"


def test_timeout():
    ch = Channel(_cfg(pc={"report_rate": 1000, "timeout": 3000}), now_ms=0)
    errors = {}
    ch.report(1000, 0, {}, errors)
    ch.report(2000, 0, {}, errors)
    assert errors == {}
    values = {}
    ch.report(3000, 0, values, errors)
    assert values == {} and errors == {"c1": "timeout: no value for 3000 ms"}
    ch.sample(7, 3500)
    values = {}
    errors = {}
    ch.report(4000, 0, values, errors)
    assert values == {"c1": 7} and errors == {}
    ch.report(6000, 0, values, errors)
    assert errors == {}
    ch.report(6500, 0, values, errors)
    assert errors == {"c1": "timeout: no value for 3000 ms"}


def test_failed_read_message_and_state():
    ch = Channel(_cfg())
    ch.fail("crc error", 0)
    values = {}
    errors = {}
    assert ch.report(0, 55, values, errors) is True
    assert errors == {"c1": "crc error"} and ch.last_error == "crc error"
    ch.sample(3, 10)
    ch.report(10, 66, values, errors)
    assert (ch.last_value, ch.last_ts_us, ch.last_error) == (3, 66, None)


def test_down_sample_with_decreasing_conversion():
    # a negative scale turns the raw maximum into the converted minimum
    pc = {"input_raw": {"min": 20, "max": 0}}
    props = {"min": 0, "max": 100}
    for mode, want in (("MIN", 25), ("MAX", 75), ("AVG", 56.25), ("ACT", 75)):
        pc["down_sample"] = mode
        ch = Channel(_cfg(props, pc))
        assert approx(_one(ch, [5, 15, 10, 5]), want), mode
    ch = Channel(_cfg(None, {"multiplier": -2, "down_sample": "MIN"}))
    assert _one(ch, [1, 3, 2]) == -6


def test_convert_helper_applies_the_full_conversion():
    ch = Channel(_cfg({"min": 0, "max": 100}, {"input_raw": {"min": 4, "max": 20}, "offset": 1}))
    v, err = ch.convert("12")
    assert approx(v, 51) and err is None
    assert ch.convert("x") == (None, "not a number: 'x'")


def test_overflow_after_conversion_is_an_error():
    # finite in, infinite after the multiplier (float32 on boards, float64 elsewhere)
    ch = Channel(_cfg(pc={"multiplier": 1e10}))
    values, errors = _run(ch, [FLOAT_MAX / 1e9])
    assert values == {} and errors == {"c1": "value out of range after conversion"}
    ch = Channel(_cfg({"precision": 0}, {"down_sample": "AVG"}))
    values, errors = _run(ch, [FLOAT_MAX, FLOAT_MAX])
    assert values == {} and errors == {"c1": "value out of range after conversion"}
    assert _one(ch, [2]) == 2  # next window is fine


def test_json_values():
    ch = Channel(_cfg(dt="JSON"))
    for v in ({"a": 1}, [1], "s", 3, 2.5, True, None):
        assert _one(ch, [v]) == v
    assert _one(ch, [(1, 2)]) == [1, 2]
    assert _one(ch, [b"x"]) == "x"
    values, errors = _run(ch, [float("nan")])
    assert values == {} and errors == {"c1": "not JSON: nan"}
    values, errors = _run(ch, [object])
    assert values == {} and list(errors) == ["c1"] and errors["c1"].startswith("not JSON: ")
