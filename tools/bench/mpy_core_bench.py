# Core hot-path benchmark; runs under MicroPython and CPython and prints one
# JSON line of figures (tools/bench/bench_core.py runs and reports it).
#   cpu: microseconds per processed sample (sample -> window -> report)
#   alloc (MicroPython only): bytes allocated per report cycle, gc disabled
#   while measuring, averaged over many cycles.
import gc
import json
import sys
import time

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../../lib")

from uedge.compat import FakeClock  # noqa: E402
from uedge.config.config_io import parse_config_io  # noqa: E402
from uedge.pipeline.payload import encode_data_in  # noqa: E402
from uedge.pipeline.scheduler import Scheduler  # noqa: E402
from uedge.sources import Source  # noqa: E402

MP = sys.implementation.name == "micropython"
NCH = 32


class ConstSource(Source):
    # Values are precomputed so the figures measure the core, not the source.
    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        self.vals = [12, 17.25, 3, 9.5]
        self.i = 0

    def read_many(self, channels, values, errors):
        vals = self.vals
        i = self.i
        for c in channels:
            values[c.id] = vals[i & 3]
            i += 1
        self.i = i


def config(nch):
    chans = {}
    modes = ("AVG", "MIN", "MAX", "ACT")
    for k in range(nch):
        pc = {"sample_rate": 250, "report_rate": 1000, "down_sample": modes[k % 4],
              "application": "Const", "interface": "bus%d" % (k % 2)}
        props = {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "precision": 2}
        if k % 3 == 0:
            pc["multiplier"] = 0.5
            pc["offset"] = 1
        if k % 3 == 1:
            props["min"] = 0
            props["max"] = 100
            pc["input_raw"] = {"min": 4, "max": 20}
        if k % 8 == 7:
            pc["report_on_change"] = True
        chans["%03d" % k] = {"display_name": "c%d" % k, "properties": props, "protocol_config": pc}
    return parse_config_io({"last_edited": "x", "channels": chans})


def make(reuse):
    clk = FakeClock()
    s = Scheduler(clk, open_source=lambda a, i, c: ConstSource(a, i, c), reuse_report=reuse)
    s.apply(config(NCH))
    return clk, s


def step(clk, s, encode):
    clk.advance(s.next_due_ms() - clk.now_ms())
    r = s.poll(clk.now_ms())
    if encode and r is not None:
        encode_data_in(r.values, r.errors)


def ticks_us():
    if MP:
        return time.ticks_us()
    return time.perf_counter_ns() // 1000


def cpu(reuse, encode, cycles):
    clk, s = make(reuse)
    for _ in range(40):  # warm up: sources open, dicts grown
        step(clk, s, encode)
    gc.collect()
    polls = cycles * 4  # 4 sample instants per report cycle (250 ms / 1000 ms)
    t0 = ticks_us()
    for _ in range(polls):
        step(clk, s, encode)
    t1 = ticks_us()
    dt = time.ticks_diff(t1, t0) if MP else t1 - t0
    samples = polls * NCH
    return dt / samples


def alloc(reuse, encode, cycles):
    clk, s = make(reuse)
    for _ in range(40):
        step(clk, s, encode)
    total = 0
    done = 0
    while done < cycles:
        n = min(20, cycles - done)
        gc.collect()
        gc.disable()
        m0 = gc.mem_alloc()
        for _ in range(n * 4):
            step(clk, s, encode)
        m1 = gc.mem_alloc()
        gc.enable()
        total += m1 - m0
        done += n
    return total / cycles


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    out = {"runtime": sys.implementation.name, "channels": NCH, "cycles": cycles}
    # best of 3 runs: the figure of the code, not of the machine's noise
    out["us_per_sample"] = min([cpu(False, False, cycles) for _ in range(3)])
    out["us_per_sample_with_encode"] = min([cpu(False, True, cycles) for _ in range(3)])
    out["us_per_sample_reuse"] = min([cpu(True, False, cycles) for _ in range(3)])
    if MP:
        out["alloc_per_cycle"] = alloc(False, False, cycles)
        out["alloc_per_cycle_reuse"] = alloc(True, False, cycles)
        out["alloc_per_cycle_with_encode"] = alloc(False, True, cycles)
        out["alloc_per_cycle_reuse_with_encode"] = alloc(True, True, cycles)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
