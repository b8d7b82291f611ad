# Portable Modbus RTU master under the MicroPython unix port, for bench_fieldbus.py.
#   micropython mpy_rtu_bench.py PORT BAUD SECONDS
# Prints one JSON line: reads/s with 1 and 125 registers per request, and the
# time and request count of reading 50 channels coalesced vs one by one.
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../../lib")

import gc  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from uedge.sources.modbus_rtu import ModbusRTUSource  # noqa: E402


class Ch:
    def __init__(self, cid, asc):
        self.id = cid
        self.app_specific_config = asc
        self.source_state = None


def rate(master, count, seconds):
    n = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < seconds * 1000:
        master.read(1, 3, 0, count)
        n += 1
    dt = time.ticks_diff(time.ticks_ms(), t0) / 1000.0
    return n / dt


def fifty(port, baud, extra, rounds):
    chans = [Ch("c%02d" % i, {"slave_id": 1, "register_range": "HOLDING_REGISTER",
                              "register": 1 + 2 * i}) for i in range(50)]
    cfg = {"baud_rate": baud}
    cfg.update(extra)
    src = ModbusRTUSource("Modbus_RTU", port, cfg)
    src.open()
    values = {}
    errors = {}
    src.read_many(chans, values, errors)  # warm-up: builds the plan
    assert not errors, errors
    r0 = src.requests
    gc.collect()
    a0 = gc.mem_alloc()
    gc.disable()
    t0 = time.ticks_us()
    for _ in range(rounds):
        src.read_many(chans, values, errors)
    dt = time.ticks_diff(time.ticks_us(), t0) / rounds / 1000.0
    alloc = (gc.mem_alloc() - a0) // rounds
    gc.enable()
    per = (src.requests - r0) // rounds
    src.close()
    return per, dt, alloc


def main():
    port = sys.argv[1]
    baud = int(sys.argv[2])
    seconds = float(sys.argv[3])
    src = ModbusRTUSource("Modbus_RTU", port, {"baud_rate": baud})
    src.open()
    m = src._connect()
    r1 = rate(m, 1, seconds)
    r125 = rate(m, 125, seconds)
    src.close()
    req_c, ms_c, alloc_c = fifty(port, baud, {}, 20)
    req_u, ms_u, _alloc_u = fifty(port, baud, {"max_gap": 0, "max_count": 1}, 5)
    print(json.dumps({"reads_1": r1, "reads_125": r125, "coalesced_requests": req_c,
                      "coalesced_ms": ms_c, "single_requests": req_u, "single_ms": ms_u,
                      "gap_ms": m.gap_ms, "alloc_per_read_many": alloc_c}))


main()
