"""Onboard channels through the real config parser and scheduler (input_raw scaling, control)."""
import json

from uedge.compat import FakeClock
from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import registry_check
from uedge.sources import onboard

from test_onboard_source import Board, FakeADC, FakeMachine, FakePin


def config(channels):
    return json.dumps({"last_edited": "2026-01-01T00:00:00Z", "channels": channels})


def ch(asc, data_type="NUMBER", rate=1000, props=None, **pc):
    p = {"data_type": data_type, "data_unit": "NONE"}
    p.update(props or {})
    c = {"application": "Onboard", "sample_rate": rate, "report_rate": rate,
         "app_specific_config": asc}
    c.update(pc)
    return {"display_name": "x", "properties": p, "protocol_config": c}


def setup():
    FakePin.levels = {}
    FakePin.made = []
    FakeADC.values = {}
    onboard.configure(Board, FakeMachine)


def test_bad_pin_is_a_config_error_naming_the_channel():
    setup()
    try:
        parse_config_io(config({"007": ch({"mode": "adc", "pin": "Z9"})}), registry_check)
        raise AssertionError("accepted a pin the board does not have")
    except ConfigError as e:
        assert "007" in str(e) and "Z9" in str(e)


def test_adc_input_raw_scaling_by_the_core_pipeline():
    setup()
    FakeADC.values = {26: 65535, 27: 0}
    # 0..65535 counts -> 0..100 % (input_raw mapped onto properties.min/max)
    c = ch({"mode": "adc", "pin": "A0"}, props={"min": 0, "max": 100, "precision": 1},
           input_raw={"min": 0, "max": 65535})
    cfg = parse_config_io(config({"001": c, "002": ch({"mode": "adc", "pin": "A1"})}), registry_check)
    clock = FakeClock(0)
    s = Scheduler(clock)
    s.apply(cfg)
    rep = None
    for _ in range(5):
        rep = s.poll(clock.now_ms())
        if rep is not None and "001" in rep.values:
            break
        clock.advance(1000)
    assert rep is not None and rep.values["001"] == 100
    assert rep.values["002"] == 0


def test_control_channel_actuates_the_pin():
    setup()
    c = ch({"mode": "dout", "pin": "RELAY"}, "BOOLEAN", rate=60000, props={"control": True})
    cfg = parse_config_io(config({"010": c}), registry_check)
    clock = FakeClock(0)
    s = Scheduler(clock)
    s.apply(cfg)
    s.poll(clock.now_ms())
    assert s.actuate("010", True) is None
    assert FakePin.levels[16] == 1
    rep = s.poll(clock.now_ms())
    assert rep is not None and rep.values.get("010") is True
    assert s.actuate("010", False) is None
    assert FakePin.levels[16] == 0
