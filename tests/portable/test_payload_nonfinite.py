# NaN and Infinity are not JSON: they never reach data_in.
import json

from uedge.pipeline.channel import Channel
from uedge.config.config_io import parse_config_io
from uedge.pipeline.control import check_request
from uedge.pipeline.payload import encode_data_in, json_finite

NAN = float("nan")
INF = float("inf")


def _bad_constant(name):
    raise ValueError("invalid JSON constant " + name)


def _no_nonfinite(text):
    """Parse strictly: NaN/Infinity are an error (MicroPython's json refuses them anyway)."""
    try:
        return json.loads(text, parse_constant=_bad_constant)
    except TypeError:  # MicroPython: no keyword arguments
        return json.loads(text)


def _json_channel(control=False):
    cio = parse_config_io({"last_edited": 1, "channels": {"010": {
        "display_name": "J", "properties": {"data_type": "JSON", "control": control},
        "protocol_config": {"report_rate": 1000}}}})
    return cio.channels["010"]


def test_json_finite_nested():
    assert json_finite({"a": [1, 2.5, {"b": "nan"}], "c": None})
    assert not json_finite({"a": [1, {"b": NAN}]})
    assert not json_finite([INF])
    assert not json_finite(-INF)


def test_encode_never_writes_nan_or_infinity():
    d = _no_nonfinite(encode_data_in({"001": 1, "010": {"a": NAN}, "011": [1, -INF]}))
    assert d["001"] == 1 and "010" not in d and "011" not in d
    assert "NaN or Infinity" in d["__error"]["010"] and "011" in d["__error"]
    d = _no_nonfinite(encode_data_in({"002": INF}, {"003": "sensor offline"}))
    assert d["__error"]["003"] == "sensor offline" and "002" in d["__error"]
    # the common case is unchanged
    assert encode_data_in({"001": 1.5}) == '{"001":1.5}'


def test_control_json_kind_refuses_nan():
    cfg = _json_channel(control=True)
    v, err = check_request(cfg, {"a": NAN})
    assert v is None and "NaN and Infinity are not valid JSON" in err and "010" in err
    v, err = check_request(cfg, {"a": [1, 2]})
    assert err is None and v == {"a": [1, 2]}


def test_json_channel_sample_with_nested_infinity_is_an_error():
    ch = Channel(_json_channel())
    err = ch.sample({"a": [1, INF]}, 0)
    assert err is not None and "NaN or Infinity" in err
    values, errors = {}, {}
    ch.report(1000, 0, values, errors)
    assert "010" not in values
    _no_nonfinite(encode_data_in(values, errors))
