# Outbox throughput (and MicroPython allocation per put); runs under both
# runtimes and prints one JSON line. Used by bench_edge.py.
#   <python|micropython> mpy_outbox_bench.py DIR [N]
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../../lib")

import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from uedge.outbox.memory import MemoryOutbox  # noqa: E402
from uedge.outbox.segment import SegmentOutbox  # noqa: E402


def _us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return time.perf_counter_ns() // 1000


def _rm(d):
    try:
        for n in os.listdir(d):
            os.remove(d + "/" + n)
        os.rmdir(d)
    except OSError:
        pass


def bench(make, n, payload):
    q = make()
    t0 = _us()
    for i in range(n):
        q.put(1700000000000000 + i, payload)
    t1 = _us()
    got = 0
    while True:
        b = q.peek(100, 262144)
        if not b:
            break
        got += len(b)
        q.ack([x[0] for x in b])
    t2 = _us()
    alloc = None
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        gc.disable()
        a = gc.mem_alloc()
        for i in range(50):
            q.put(i, payload)
        alloc = (gc.mem_alloc() - a) / 50
        gc.enable()
    q.close()
    return {"put_per_s": n * 1e6 / max(1, t1 - t0), "replay_per_s": got * 1e6 / max(1, t2 - t1),
            "alloc_per_put": alloc, "n": got}


def main(argv):
    d = argv[1]
    n = int(argv[2]) if len(argv) > 2 else 2000
    payload = json.dumps(dict(("C%03d" % i, 12.345 + i) for i in range(100)))
    out = {"payload_bytes": len(payload)}
    out["memory"] = bench(lambda: MemoryOutbox(cap_items=0), n, payload)
    _rm(d)
    out["segment"] = bench(lambda: SegmentOutbox(d, cap_bytes=0, segment_bytes=65536), n, payload)
    _rm(d)
    print(json.dumps(out))


main(sys.argv)
