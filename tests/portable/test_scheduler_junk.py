# Whatever a source returns, the loop keeps going and reports values or errors.
from uedge.compat import FakeClock
from uedge.config.config_io import parse_config_io
from uedge.pipeline.payload import encode_data_in
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import Source

JUNK = [None, True, False, 0, -1, 2 ** 70, 1.5, float("nan"), float("inf"), "", "12", "x", b"\xff", b"on",
        [], [1, 2], (91, 0), {}, {"lat": 1, "lng": 2}, {"lat": "a"}, object(), "on", " 7 ", 1e308]


class Junk(Source):
    def __init__(self, a, i, c):
        Source.__init__(self, a, i, c)
        self.k = 0

    def read(self, channel):
        self.k += 1
        v = JUNK[self.k % len(JUNK)]
        if self.k % 11 == 0:
            raise ValueError("odd failure")
        return v


def test_junk_values_never_break_the_loop():
    chans = {}
    types = ["NUMBER", "BOOLEAN", "STRING", "JSON", "LOCATION"]
    modes = ["MIN", "MAX", "AVG", "ACT"]
    n = 0
    for t in types:
        for m in modes:
            pc = {"sample_rate": 100, "report_rate": 300, "down_sample": m, "application": "J",
                  "report_on_change": n % 2 == 0, "timeout": 1000}
            props = {"data_type": t, "precision": 1}
            if n % 3 == 0:
                props["min"] = 0
                props["max"] = 10
                pc["input_raw"] = {"min": 4, "max": 20}
            chans["c%d" % n] = {"display_name": "x", "properties": props, "protocol_config": pc}
            n += 1
    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: Junk(a, i, c))
    s.apply(parse_config_io({"last_edited": "x", "channels": chans}))
    reports = 0
    seen_values = 0
    seen_errors = 0
    while clk.now_ms() < 30000:
        clk.advance(s.next_due_ms() - clk.now_ms())
        r = s.poll(clk.now_ms())
        if r is not None:
            reports += 1
            seen_values += len(r.values)
            seen_errors += len(r.errors)
            encode_data_in(r.values, r.errors)
    assert reports == 101, (reports, seen_values, seen_errors)
    assert seen_values > 100 and seen_errors > 100
