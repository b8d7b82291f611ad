# Live reconfiguration and actuation through the scheduler.
from uedge.compat import FakeClock
from uedge.config.config_applications import parse_config_applications
from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import default_open_source
from uedge.sources import Source
from ptest import raises
import uedge.sources.simulated  # noqa: F401


class Rec(Source):
    log = []
    writable = True

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        self.value = 0

    def open(self):
        Rec.log.append(("open", self.interface, sorted(self.app_config.items())))

    def read(self, channel):
        return self.value

    def write(self, channel, value):
        Rec.log.append(("write", channel.id, value))
        self.value = value

    def close(self):
        Rec.log.append(("close", self.interface))


def _open(app, itf, cfg):
    if app == "Rec":
        return Rec(app, itf, cfg)
    return default_open_source(app, itf, cfg)


def _ch(rate, app="Rec", itf="/dev/a", dt="NUMBER", control=False, asc=None, **pc):
    p = {"report_rate": rate}
    if app:
        p["application"] = app
        p["interface"] = itf
        p["app_specific_config"] = asc or {}
    for k in pc:
        p[k] = pc[k]
    ch = {"display_name": "x", "properties": {"data_type": dt, "control": control}, "protocol_config": p}
    return ch


def _cio(channels):
    return parse_config_io({"last_edited": "x", "channels": channels})


def _new():
    Rec.log = []
    clk = FakeClock()
    return clk, Scheduler(clk, open_source=_open)


def test_add_remove_rerate_live():
    clk, s = _new()
    s.apply(_cio({"1": _ch(1000), "2": _ch(5000)}))
    assert s.poll(0).values == {"1": 0, "2": 0}
    assert s.poll(1000).values == {"1": 0}
    clk.advance(2500)
    # re-rate 1, add 3, keep 2 unchanged, all on the same source
    s.apply(_cio({"1": _ch(500), "2": _ch(5000), "3": _ch(2000)}))
    assert [e[0] for e in Rec.log] == ["open"]  # no reopen
    assert s.next_due_ms() == 2500  # changed/new channels start now
    assert s.poll(2500).values == {"1": 0, "3": 0}
    assert s.poll(3000).values == {"1": 0}
    assert s.poll(5000).values == {"1": 0, "2": 0, "3": 0}  # 2 kept its grid; late poll merges 3
    clk.advance(5000 - clk.now_ms())
    s.apply(_cio({"2": _ch(5000)}))
    assert s.poll(5500) is None
    assert s.poll(10000).values == {"2": 0}
    assert sorted(s.channels) == ["2"]


def test_reopen_only_when_source_key_changes_and_close_unused():
    clk, s = _new()
    apps = {"applications": {"Rec": {"interfaces": [{"interface": "/dev/a", "baud_rate": 9600},
                                                    {"interface": "/dev/b", "baud_rate": 9600}]}}}
    s.apply(_cio({"1": _ch(1000), "2": _ch(1000, itf="/dev/b")}), apps)
    s.poll(0)
    assert sorted(Rec.log) == [("open", "/dev/a", [("baud_rate", 9600), ("interface", "/dev/a")]),
                               ("open", "/dev/b", [("baud_rate", 9600), ("interface", "/dev/b")])]
    Rec.log = []
    # same config_applications again: nothing happens
    s.apply(_cio({"1": _ch(1000), "2": _ch(1000, itf="/dev/b")}), apps)
    s.poll(1000)
    assert Rec.log == []
    # /dev/b's settings change: only /dev/b is reopened
    apps["applications"]["Rec"]["interfaces"][1]["baud_rate"] = 19200
    s.apply(_cio({"1": _ch(1000), "2": _ch(1000, itf="/dev/b")}), parse_config_applications(apps))
    assert Rec.log == [("close", "/dev/b")]
    s.poll(2000)
    assert Rec.log == [("close", "/dev/b"), ("open", "/dev/b", [("baud_rate", 19200), ("interface", "/dev/b")])]
    Rec.log = []
    # channel 2 moves to /dev/a: /dev/b has no channel left and is closed
    s.apply(_cio({"1": _ch(1000), "2": _ch(1000)}))
    assert Rec.log == [("close", "/dev/b")]
    s.poll(3000)
    assert Rec.log == [("close", "/dev/b")]
    s.close()
    assert Rec.log[-1] == ("close", "/dev/a")


def test_invalid_config_changes_nothing():
    clk, s = _new()
    s.apply(_cio({"1": _ch(1000)}))
    bad = '{"last_edited": "x", "channels": {"1": {"display_name": "x", "properties": {"data_type": "X"}, "protocol_config": {"report_rate": 0}}}}'
    raises(ConfigError, s.apply, bad)
    assert s.config_io.channels["1"].report_rate == 1000
    assert s.poll(0).values == {"1": 0}


def test_apply_checks_app_specific_config_with_the_registry():
    clk, s = _new()
    bad = {"last_edited": "x", "channels": {"7": _ch(1000, app="Simulated", asc={"function": "cosine"})}}
    m = str(raises(ConfigError, s.apply, bad))
    assert m.startswith('channel 7: app_specific_config.function must be one of sine'), m


def test_actuate_writes_and_reports_at_once():
    clk, s = _new()
    s.apply(_cio({"sp": _ch(60000, control=True, multiplier=0.1),
                  "ro": _ch(60000)}))
    s.poll(0)
    clk.advance(1500)
    assert s.next_due_ms() == 60000
    assert s.actuate("sp", "25") is None
    assert Rec.log[-1] == ("write", "sp", 250)  # inverse of value * 0.1
    assert s.next_due_ms() == 1500
    r = s.poll(1500)
    assert r.values == {"sp": 25} and r.errors == {}
    assert s.state("sp") == (25, 1700000000000000 + 1500 * 1000, None)
    assert s.poll(1501) is None
    # the source now reads back the new state
    assert s.poll(60000).values == {"sp": 25.0, "ro": 250}


def test_actuate_rejections():
    clk, s = _new()
    s.apply(_cio({"sp": _ch(1000, control=True), "ro": _ch(1000)}))
    assert s.actuate("nope", 1) == "unknown channel nope"
    assert s.actuate("ro", 1) == "channel ro is not a control channel"
    assert s.actuate("sp", "abc") == "channel sp: expected a number, got 'abc'"
    assert [e for e in Rec.log if e[0] == "write"] == []


def test_virtual_control_channel_keeps_last_state():
    clk, s = _new()
    s.apply(_cio({"v": {"display_name": "Valve", "properties": {"data_type": "BOOLEAN", "control": True},
                        "protocol_config": {"report_rate": 60000, "timeout": 360000}}}))
    assert s.poll(0) is None  # nothing actuated yet: nothing to say
    assert s.actuate("v", "on") is None
    assert s.poll(10).values == {"v": True}
    r = s.poll(60000)
    assert r.values == {"v": True} and r.errors == {}
    assert s.actuate("v", 0) is None
    assert s.poll(60001).values == {"v": False}
    assert s.poll(120000).values == {"v": False}
    assert s.poll(420000 + 60000).errors == {}  # no timeouts for virtual channels


def test_actuate_simulated_step_and_readonly_function():
    clk = FakeClock()
    s = Scheduler(clk)
    s.apply(_cio({
        "door": _ch(5000, app="Simulated", itf=None, dt="STRING", control=True, asc={"function": "echo", "initial": "close"}),
        "sine": _ch(5000, app="Simulated", itf=None, control=True, asc={"function": "sine"}),
    }))
    assert s.poll(0).values == {"door": "close", "sine": 0.0}
    assert s.actuate("door", "open") is None
    assert s.poll(1).values == {"door": "open"}
    assert s.poll(5000).values["door"] == "open"
    assert s.actuate("sine", 1) == 'channel sine: write failed: function "sine" is not writable (use step or echo)'


def test_actuate_when_source_cannot_open():
    class Dead(Source):
        def open(self):
            raise OSError("gone")

    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Dead(a, i, c))
    s.apply(_cio({"sp": _ch(1000, app="D", itf="x", control=True)}))
    assert s.actuate("sp", 1) == "channel sp: D x open failed: OSError: gone"


def test_reuse_report_option():
    clk = FakeClock()
    s = Scheduler(clk, reuse_report=True, open_source=_open)
    s.apply(_cio({"1": _ch(1000)}))
    a = s.poll(0)
    b = s.poll(1000)
    assert a is b and b.values == {"1": 0}
    s2 = Scheduler(clk, open_source=_open)
    s2.apply(_cio({"1": _ch(1000)}))
    assert s2.poll(0) is not s2.poll(1000)
