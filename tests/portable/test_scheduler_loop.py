# The scheduler: mixed rates over a simulated hour, grouping per source, errors, backoff.
from uedge.compat import FakeClock
from uedge.config.config_io import parse_config_io
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import Source, SourceError
import uedge.sources.simulated  # noqa: F401  (registers "Simulated")

HOUR = 3600000


def _ch(report_rate=None, sample_rate=None, app="Simulated", asc=None, dt="NUMBER", **pc):
    p = {}
    if report_rate is not None:
        p["report_rate"] = report_rate
    if sample_rate is not None:
        p["sample_rate"] = sample_rate
    if app is not None:
        p["application"] = app
        p["app_specific_config"] = asc if asc is not None else {"function": "counter"}
    for k in pc:
        p[k] = pc[k]
    return {"display_name": "x", "properties": {"data_type": dt}, "protocol_config": p}


def _cio(channels):
    return parse_config_io({"last_edited": "x", "channels": channels})


def _drive(s, clk, until, keep=None):
    """Poll at every due instant before `until`; return [(now_ms, ts_us, values, errors)].

    keep(now_ms) -> bool limits what is stored (an hour of reports is a lot of
    heap on MicroPython).
    """
    out = []
    while True:
        nd = s.next_due_ms()
        if nd is None or nd >= until:
            break
        if nd > clk.now_ms():
            clk.advance(nd - clk.now_ms())
        r = s.poll(clk.now_ms())
        if r is not None and (keep is None or keep(clk.now_ms(), r)):
            out.append((clk.now_ms(), r.ts_us, dict(r.values), dict(r.errors)))
    return out


class Recorder(Source):
    """Counts opens/closes and records each read_many batch."""

    log = []
    writable = True

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        self.value = 0
        Recorder.log.append(("new", application, interface))

    def open(self):
        Recorder.log.append(("open", self.application, self.interface))

    def read_many(self, channels, values, errors):
        Recorder.log.append(("read", self.interface, [c.id for c in channels]))
        for c in channels:
            values[c.id] = self.value

    def write(self, channel, value):
        self.value = value

    def close(self):
        Recorder.log.append(("close", self.application, self.interface))


def _rec_open(app, itf, cfg):
    if app == "Rec":
        return Recorder(app, itf, cfg)
    from uedge.sources import default_open_source

    return default_open_source(app, itf, cfg)


def test_mixed_rates_over_a_simulated_hour():
    clk = FakeClock(0, epoch_us=1700000000000000)
    s = Scheduler(clk)
    s.apply(_cio({
        "A": _ch(1000),
        "B": _ch(10000, 2000, down_sample="AVG"),
        "C": _ch(60000, asc={"function": "sine", "period_ms": 60000, "amplitude": 5}),
        "D": _ch(7000),
        "E": {"display_name": "valve", "properties": {"data_type": "BOOLEAN", "control": True}},
    }))
    counts = {}
    instants = [0, [], None]  # how many, the first three, the last (a list of 3600 is 16 KB of heap)
    wanted = (0, 1000, 2000, 5000, 7000, 10000, 12000, 20000, 60000, 3590000, 3598000, 3599000)

    def keep(now, r):
        assert r.errors == {}
        instants[0] += 1
        if len(instants[1]) < 3:
            instants[1].append(now)
        instants[2] = now
        for k in r.values:
            counts[k] = counts.get(k, 0) + 1
        return now in wanted

    reports = _drive(s, clk, HOUR, keep)
    assert counts == {"A": 3600, "B": 360, "C": 60, "D": 515}
    assert instants[0] == 3600  # one merged report per instant (every second)
    assert instants[1] == [0, 1000, 2000] and instants[2] == 3599000
    by_t = {}
    for t, ts, values, _ in reports:
        by_t[t] = values
        assert ts == 1700000000000000 + t * 1000  # timestamps follow the clock
    assert by_t[0] == {"A": 0, "B": 0, "C": 0.0, "D": 0}
    # B: counter sampled every 2 s, averaged per 10 s: samples 5k-4..5k -> 5k-2
    assert by_t[10000]["B"] == 3.0 and by_t[20000]["B"] == 8.0 and by_t[3590000]["B"] == 1793.0
    assert "B" not in by_t[12000]
    # D every 7 s, one read per report
    assert by_t[7000]["D"] == 1 and by_t[3598000]["D"] == 514
    assert by_t[3599000]["A"] == 3599
    # C: sine sampled on its period -> always 0 (+/- rounding)
    assert abs(by_t[60000]["C"]) < 1e-9


def test_sample_only_instants_return_none():
    clk = FakeClock()
    s = Scheduler(clk)
    s.apply(_cio({"A": _ch(1000, 300, down_sample="MAX")}))
    assert s.poll(0).values == {"A": 0}
    assert s.next_due_ms() == 300
    assert s.poll(300) is None
    assert s.poll(600) is None
    assert s.poll(900) is None
    assert s.next_due_ms() == 1000
    assert s.poll(999) is None
    # sample and report grids are independent: reads at 0, 300, 600, 900
    assert s.poll(1000).values == {"A": 3}
    assert s.poll(1200) is None


def test_late_poll_skips_missed_instants():
    clk = FakeClock()
    s = Scheduler(clk)
    s.apply(_cio({"A": _ch(1000)}))
    s.poll(0)
    r = s.poll(5500)  # four instants missed
    assert r.values == {"A": 1}
    assert s.next_due_ms() == 6000  # still on the original grid


def test_due_channels_grouped_per_source():
    Recorder.log = []
    clk = FakeClock()
    s = Scheduler(clk, open_source=_rec_open)
    s.apply(_cio({
        "1": _ch(1000, app="Rec", interface="/dev/ttyA", asc={}),
        "2": _ch(2000, app="Rec", interface="/dev/ttyA", asc={}),
        "3": _ch(1000, app="Rec", interface="/dev/ttyB", asc={}),
        "4": _ch(1000, app="Rec", interface="/dev/ttyA", asc={}),
    }))
    r = s.poll(0)
    assert r.values == {"1": 0, "2": 0, "3": 0, "4": 0}
    reads = [(e[0], e[1], sorted(e[2])) for e in Recorder.log if e[0] == "read"]
    assert sorted(reads, key=lambda e: e[1]) == [("read", "/dev/ttyA", ["1", "2", "4"]), ("read", "/dev/ttyB", ["3"])]
    opens = [e for e in Recorder.log if e[0] == "open"]
    assert len(opens) == 2
    Recorder.log = []
    s.poll(1000)
    reads = sorted([(e[0], e[1], sorted(e[2])) for e in Recorder.log if e[0] == "read"], key=lambda e: e[1])
    assert reads == [("read", "/dev/ttyA", ["1", "4"]), ("read", "/dev/ttyB", ["3"])]


class Flaky(Source):
    opens = 0
    fail_opens = 3

    def open(self):
        Flaky.opens += 1
        if Flaky.opens <= Flaky.fail_opens:
            raise OSError("no such device")

    def read(self, channel):
        if channel.id == "bad":
            raise SourceError("crc error")
        if channel.id == "none":
            return None
        return 1


def test_open_failure_gives_errors_and_backoff():
    Flaky.opens = 0
    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Flaky(a, i, c))
    s.apply(_cio({"1": _ch(500, app="F", interface="/dev/x", asc={})}))
    got = _drive(s, clk, 8000)
    # attempts at 0, 1000 (+1 s), 3000 (+2 s), then success at 7000 (+4 s)
    assert Flaky.opens == 4
    first = got[0]
    assert first[3] == {"1": "F /dev/x open failed: OSError: no such device"} and first[2] == {}
    ok = [t for t, _, v, _ in got if v]
    assert ok[0] == 7000
    assert all(e == {"1": "F /dev/x open failed: OSError: no such device"} for t, _, v, e in got if t < 7000)


def test_read_errors_and_values_in_one_report():
    Flaky.opens = 100
    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Flaky(a, i, c))
    s.apply(_cio({"ok": _ch(1000, app="F", asc={}), "bad": _ch(1000, app="F", asc={}),
                  "none": _ch(1000, app="F", asc={}, dt="STRING")}))
    r = s.poll(0)
    assert r.values == {"ok": 1}
    assert r.errors == {"bad": "crc error", "none": "not a string: None"}
    assert s.state("bad") == (None, None, "crc error")
    assert s.state("ok") == (1, r.ts_us, None)
    assert s.state("zzz") == (None, None, "unknown channel zzz")


class Broken(Source):
    opened = 0

    def open(self):
        Broken.opened += 1

    def read_many(self, channels, values, errors):
        raise ValueError("bug")


def test_buggy_source_never_crashes_the_loop():
    Broken.opened = 0
    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Broken(a, i, c))
    s.apply(_cio({"1": _ch(1000, app="B", asc={})}))
    r = s.poll(0)
    assert r.errors == {"1": "B read failed: ValueError: bug"}
    assert Broken.opened == 1
    r = s.poll(1000)  # reopened after 1 s, fails again
    assert r.errors == {"1": "B read failed: ValueError: bug"}
    assert Broken.opened == 2
    r = s.poll(2000)  # waiting for the doubled backoff
    assert r.errors == {"1": "B read failed: ValueError: bug"}
    assert Broken.opened == 2
    s.poll(3000)
    assert Broken.opened == 3


def test_unknown_application_is_an_error_not_a_crash():
    clk = FakeClock()
    s = Scheduler(clk)
    s.apply(_cio({"1": _ch(1000, app="Nope", asc={})}))
    assert s.poll(0).errors == {"1": "Nope open failed: unknown application Nope"}


def test_timeout_when_source_returns_nothing():
    class Silent(Source):
        def read_many(self, channels, values, errors):
            pass

    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Silent(a, i, c))
    s.apply(_cio({"1": _ch(1000, app="S", asc={}, timeout=2500)}))
    got = _drive(s, clk, 5000)
    assert [(t, e) for t, _, v, e in got] == [
        (3000, {"1": "timeout: no value for 3000 ms"}),
        (4000, {"1": "timeout: no value for 4000 ms"}),
    ]


def test_non_control_virtual_channels_are_silent():
    clk = FakeClock()
    s = Scheduler(clk)
    s.apply(_cio({"d": _ch(1000, app=None, timeout=1000)}))
    assert _drive(s, clk, 10000) == []
    # values can be pushed from outside
    assert s.push("d", 42, 10000) is None
    clk.advance(10000 - clk.now_ms())
    assert s.poll(10000).values == {"d": 42}
    assert s.push("zz", 1) == "unknown channel zz"


def test_channel_state_stays_small():
    # A board holds one attribute table per channel: a steady channel keeps
    # what its mode needs, at most 12 attributes (one 12-slot table on
    # MicroPython), whatever its down_sample; report_on_change adds its two.
    clk = FakeClock()
    s = Scheduler(clk, reuse_report=True)
    chans = {}
    for i, ds in enumerate(("ACT", "MIN", "MAX", "AVG")):
        chans["n%d" % i] = _ch(5000, 1000, asc={"function": "sine"}, down_sample=ds)
    chans["t"] = _ch(5000, 1000, asc={"function": "text", "values": ["a", "b"]}, dt="STRING")
    s.apply(_cio(chans))
    _drive(s, clk, 30000)
    for cid in s.channels:
        names = sorted(s.channels[cid].__dict__)
        assert len(names) <= 12, (cid, names)
        assert "reported" not in names and "last_reported" not in names
    # the window keeps one statistic: AVG has no min, max or last sample
    assert "wsum" in s.channels["n3"].__dict__ and "wlast" not in s.channels["n3"].__dict__
    assert s.state("n3")[0] is not None and s.state("t")[0] in ("a", "b")


def test_inline_rounding_is_round():
    # A report rounds a float by a multiply where that is exact
    # (values.round_float): the same float as round(v, p), sign of zero and
    # halves included. MicroPython's round(v, p) multiplies already: unused.
    from uedge.pipeline import values

    if not values.ROUND_DIGITS:
        return
    x = 12345
    vals = [0.5, -0.5, 1.0005, 2.675, -2.675, 0.125, 0.0001, -0.0004, 1e11, -3e12, 5e-324]
    for i in range(4000):
        x = (x * 1103515245 + 12345) % 2147483648
        vals.append((x / 2147483648.0 - 0.5) * 10 ** (i % 15 - 4))
        vals.append((x % 200001 - 100000) / 2000.0)  # ends in 5 at the 4th decimal: halves
    for v in vals:
        for p in range(1, values.ROUND_DIGITS):
            want = round(v, p)
            got = values.round_float(v, p)
            assert repr(got) == repr(want), (v, p, got, want)


def test_slot_schedule_bounds_follow_the_channels():
    # A source's channels at different rates: only the due ones are read,
    # and all of them once their instants coincide (the slot's lo/hi bounds).
    Recorder.log = []
    clk = FakeClock()
    s = Scheduler(clk, open_source=_rec_open)
    s.apply(_cio({"1": _ch(1000, app="Rec", interface="/dev/ttyA", asc={}),
                  "2": _ch(3000, app="Rec", interface="/dev/ttyA", asc={})}))
    _drive(s, clk, 6001)
    reads = [sorted(e[2]) for e in Recorder.log if e[0] == "read"]
    assert reads == [["1", "2"], ["1"], ["1"], ["1", "2"], ["1"], ["1"], ["1", "2"]]
    # a rate change re-derives the bounds from the channels' new schedule
    Recorder.log = []
    s.apply(_cio({"1": _ch(1000, app="Rec", interface="/dev/ttyA", asc={}),
                  "2": _ch(2000, app="Rec", interface="/dev/ttyA", asc={})}))
    _drive(s, clk, 10001)
    reads = [(e[2]) for e in Recorder.log if e[0] == "read"]
    assert [sorted(r) for r in reads] == [["2"], ["1"], ["1", "2"], ["1"], ["1", "2"]], reads
