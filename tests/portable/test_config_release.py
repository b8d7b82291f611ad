"""The config validators are loaded for one document and, on MicroPython, unloaded
again (uedge.config.load): the steady loop does not hold their bytecode."""

import gc
import json
import sys

from ptest import raises
from uedge.config import load, model

MPY = sys.implementation.name == "micropython"
VALIDATORS = ("uedge.config.config_io", "uedge.config.fields", "uedge.config.json_reader")


def _doc(n, rate=1000):
    chans = {}
    for i in range(n):
        chans["%03d" % i] = {"display_name": "c%d" % i, "properties": {"data_type": "NUMBER"},
                             "protocol_config": {"sample_rate": rate, "report_rate": rate}}
    return json.dumps({"last_edited": "2026-01-01T00:00:00Z", "channels": chans})


def _loaded():
    return [m for m in VALIDATORS if m in sys.modules]


def _no_config_applications():
    """As on a board whose config has no config_applications (other tests of
    this run may have loaded it; it would keep the validators)."""
    sys.modules.pop("uedge.config.config_applications", None)
    pkg = sys.modules["uedge.config"]
    if "config_applications" in pkg.__dict__:
        delattr(pkg, "config_applications")


def test_parse_io_validates_and_returns_the_model_classes():
    cfg = load.parse_io(_doc(3))
    assert isinstance(cfg, model.ConfigIO)
    assert sorted(cfg.order) == ["000", "001", "002"]
    assert isinstance(cfg.channels["001"], model.ChannelConfig)
    assert cfg.channels["001"].display_name == "c1"


def test_validators_unloaded_on_micropython_only():
    _no_config_applications()
    load.parse_io(_doc(2))
    if MPY:
        assert _loaded() == [], _loaded()
        pkg = sys.modules["uedge.config"]
        assert "config_io" not in pkg.__dict__ and "json_reader" not in pkg.__dict__
    else:
        assert _loaded() == list(VALIDATORS)  # CPython keeps them (no heap to win)


def test_an_error_after_a_reload_is_the_same_class():
    load.parse_io(_doc(1))  # load and (MicroPython) unload once
    e = raises(model.ConfigError, load.parse_io, '{"last_edited": "x", "channels": {"a": 5}}')
    assert "channel a" in str(e)
    e = raises(model.ConfigError, load.parse_io, '{"channels": {}}')
    assert "last_edited" in str(e)
    # and the next good document still parses
    assert sorted(load.parse_io(_doc(2)).order) == ["000", "001"]


def test_applications_of_reads_names_and_releases():
    text = json.dumps({"last_edited": "x", "channels": {
        "a": {"protocol_config": {"application": "Simulated"}},
        "b": {"protocol_config": {"application": "Modbus_RTU"}},
        "c": {"protocol_config": {"application": "Simulated"}}}})
    _no_config_applications()
    apps = load.applications_of(text)
    assert sorted(apps) == ["Modbus_RTU", "Simulated"]
    assert load.applications_of("not json") == []
    if MPY:
        assert _loaded() == []  # nothing loaded: a scan, not a parse
    # keys only, whatever the spacing; a name inside a string value is not one
    assert load.applications_of('{"channels": {"a": {"display_name": "application", "protocol_config"'
                                ' : {"application" :\n "Onboard"}}, "b": {"display_name":'
                                ' "\\"application\\": \\"X\\""}}}') == ["Onboard"]
    assert load.applications_of(b'{"application": "Simulated"}') == ["Simulated"]


def test_release_returns_the_heap_on_micropython():
    if not MPY:
        return
    _no_config_applications()
    text = _doc(4)
    load.parse_io(text)  # warm: anything loaded once for good is loaded now
    pkg = sys.modules["uedge.config"]
    for m in VALIDATORS:  # unloaded by hand, so that a release() doing nothing fails below
        sys.modules.pop(m, None)
        if m[13:] in pkg.__dict__:
            delattr(pkg, m[13:])
    gc.collect()
    before = gc.mem_alloc()
    cfg = load.parse_io(text)
    gc.collect()
    after = gc.mem_alloc()
    # what stays is the parsed config, not the validators (a few KB of code)
    assert after - before < 3000, after - before
    assert len(cfg.order) == 4
