"""parse_config_io drops each channel's document tree once the channel is built
(when it parsed the text itself), so a board holds the whole tree and the
model together less and less; a document object passed in is left alone."""

import json

from uedge.config import config_io, json_reader

DOC = {"last_edited": "2026-01-01T00:00:00Z", "channels": {
    "001": {"display_name": "a", "properties": {"data_type": "NUMBER"},
            "protocol_config": {"sample_rate": 1000, "app_specific_config": {"k": 1}}},
    "002": {"display_name": "b", "properties": {"data_type": "NUMBER", "locked": True},
            "protocol_config": {"sample_rate": 2000}},
}}


def test_the_tree_of_each_channel_goes_once_it_is_built():
    seen = []
    real = json_reader.parse_ordered

    def capture(text):
        doc, order = real(text)
        seen.append(doc)
        return doc, order

    json_reader.parse_ordered = capture
    try:
        cfg = config_io.parse_config_io(json.dumps(DOC))
    finally:
        json_reader.parse_ordered = real
    assert seen[0]["channels"] == {"001": None, "002": None}
    # what the model keeps is kept: values, app_specific_config, a locked channel's raw
    a, b = cfg.channels["001"], cfg.channels["002"]
    assert cfg.order == ["001", "002"]
    assert a.display_name == "a" and a.sample_rate == 1000 and a.app_specific_config == {"k": 1}
    assert b.locked and b.raw["display_name"] == "b" and b.raw["properties"]["locked"] is True


def test_a_document_object_passed_in_is_not_changed():
    doc = json.loads(json.dumps(DOC))
    cfg = config_io.parse_config_io(doc)
    assert doc == DOC
    assert sorted(cfg.order) == ["001", "002"]
