# The Simulated application: deterministic signals, writable step/echo.
from ptest import approx, raises

from uedge.config.config_io import parse_config_io
from uedge.sources import registry_check
from uedge.sources import SourceError, lookup
from uedge.sources.simulated import SimulatedSource


def _ch(asc, cid="s"):
    doc = {"last_edited": "x", "channels": {cid: {"display_name": "s", "properties": {"data_type": "NUMBER"},
                                                  "protocol_config": {"application": "Simulated",
                                                                      "app_specific_config": asc}}}}
    return parse_config_io(doc, registry_check).channels[cid]


def _src():
    s = lookup("Simulated")("Simulated", None, {})
    s.open()
    return s


def test_registered():
    assert lookup("Simulated") is SimulatedSource
    assert SimulatedSource.writable is True


def test_sine_follows_the_clock():
    s = _src()
    ch = _ch({"function": "sine", "period_ms": 4000, "amplitude": 2, "offset": 10})
    got = []
    for t in (0, 1000, 2000, 3000, 4000):
        s.now_ms = t
        got.append(s.read(ch))
    want = [10, 12, 10, 8, 10]
    for a, b in zip(got, want):
        assert approx(a, b, 1e-9), (got, want)
    ch2 = _ch({"function": "sine", "period_ms": 4000, "phase_ms": 1000})
    s.now_ms = 0
    assert approx(s.read(ch2), 1)


def test_square():
    s = _src()
    ch = _ch({"function": "square", "period_ms": 1000, "low": 0, "high": 5, "duty": 0.25})
    out = []
    for t in (0, 200, 250, 900, 1000):
        s.now_ms = t
        out.append(s.read(ch))
    assert out == [5, 5, 0, 0, 5]


def test_random_is_seeded_and_in_range():
    s = _src()
    a = _ch({"function": "random", "min": 10, "max": 20, "seed": 7}, "a")
    b = _ch({"function": "random", "min": 10, "max": 20, "seed": 7}, "b")
    xa = [s.read(a) for _ in range(50)]
    xb = [s.read(b) for _ in range(50)]
    assert xa == xb
    assert all(10 <= x < 20 for x in xa)
    assert len(set(xa)) > 40
    # the same on every runtime: xorshift16 from seed 7
    assert approx(xa[0], 10 + 10 * (34182 / 65536.0), 1e-6)


def test_counter():
    s = _src()
    ch = _ch({"function": "counter", "start": 5, "step": 2})
    assert [s.read(ch) for _ in range(4)] == [5, 7, 9, 11]


def test_step_echo_writable():
    s = _src()
    ch = _ch({"function": "step", "initial": 3})
    assert s.read(ch) == 3
    s.write(ch, 9)
    assert s.read(ch) == 9
    e = _ch({"function": "echo"})
    assert s.read(e) == 0
    s.write(e, "x")
    assert s.read(e) == "x"
    c = _ch({"function": "counter"})
    m = str(raises(SourceError, s.write, c, 1))
    assert m == 'function "counter" is not writable (use step or echo)'


def test_text_cycles():
    s = _src()
    ch = _ch({"function": "text", "values": ["idle", "run"]})
    assert [s.read(ch) for _ in range(3)] == ["idle", "run", "idle"]


def test_check_channel_messages():
    chk = SimulatedSource.check_channel
    assert chk("1", {}) is None
    assert chk("1", {"function": "cos"}) == \
        'app_specific_config.function must be one of sine, square, random, counter, step, echo, text, got "cos"'
    assert chk("1", {"function": "sine", "period_ms": "1s"}) == "app_specific_config.period_ms must be a number, got '1s'"
    assert chk("1", {"function": "sine", "period_ms": 0}) == "app_specific_config.period_ms must be positive, got 0"
    assert chk("1", {"function": "random", "min": 5, "max": 1}) == "app_specific_config.min must not exceed max"
    assert chk("1", {"function": "text", "values": []}) == "app_specific_config.values must be a non-empty list"
