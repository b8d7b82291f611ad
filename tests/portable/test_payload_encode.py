# data_in payloads and $resource.batch bodies.
import json

from uedge.pipeline.payload import encode_data_in
from uedge.transport.murano_mqtt import batch_payload


def test_values_only_is_compact():
    s = encode_data_in({"001": True})
    assert s == '{"001":true}'
    s = encode_data_in({"002": 78.233, "003": {"lat": 43.650883, "lng": -96.201642}, "007": "good"}, {})
    assert " " not in s
    assert json.loads(s) == {"002": 78.233, "003": {"lat": 43.650883, "lng": -96.201642}, "007": "good"}


def test_errors_go_under___error():
    values = {"001": 1}
    s = encode_data_in(values, {"001": "crc error", "003": "timeout"})
    assert json.loads(s) == {"001": 1, "__error": {"001": "crc error", "003": "timeout"}}
    assert values == {"001": 1}  # the caller's dict is left as it was
    assert json.loads(encode_data_in({}, {"9": "x"})) == {"__error": {"9": "x"}}
    assert encode_data_in({}) == "{}"


def test_text_is_escaped():
    s = encode_data_in({"a b": 'say "hi"\n'})
    assert json.loads(s) == {"a b": 'say "hi"\n'}


def test_batch_matches_the_record_api_shape():
    body = batch_payload([(1531111131679000, {"data_in": '{"001":73.16492}'}),
                          (1531111131689665, {"data_in": '{"001":72.73459}'})])
    parsed = json.loads(body)
    assert parsed == [{"timestamp": 1531111131679000, "values": {"data_in": '{"001":73.16492}'}},
                      {"timestamp": 1531111131689665, "values": {"data_in": '{"001":72.73459}'}}]
    assert json.loads(parsed[0]["values"]["data_in"]) == {"001": 73.16492}
    assert json.loads(batch_payload([])) == []
    assert json.loads(batch_payload([(1, {"data_x": "{}"})])) == [{"timestamp": 1, "values": {"data_x": "{}"}}]
