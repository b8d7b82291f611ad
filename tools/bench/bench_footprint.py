"""Memory and flash footprint of uedge on MicroPython boards.

    python tools/bench/bench_footprint.py            (make bench runs it)

Prints:
  * the smallest MicroPython heap (-X heapsize, binary search in 1 KB steps)
    in which, with every module the board firmware loads, 16 channels report for 10 minutes of simulated time through the
    real edge loop (scheduler + channel pipeline + data_in encoding + outbox +
    the transport's record batching), including one minute offline whose
    reports are queued and replayed;
  * peak gc heap use and bytes allocated per report cycle at a roomy heap;
  * the .mpy size of lib/ + firmware/ per board (mpy-cross for the board's arch).

The workload imports the modules from a build made with mpy-cross (what a
board loads), not from .py source, so the heap holds bytecode as on hardware.
Run under MicroPython this file is the workload itself.
"""

import sys

CHANNELS = 16
SIM_MINUTES = 10
OFFLINE = (240000, 300000)  # ms of simulated time with the connector away


def workload(leave_free=0):
    import gc

    gc.collect()
    base = gc.mem_alloc()
    from uedge import murano  # noqa: F401  (loaded on a board: batch encoding below)
    from uedge.compat import FakeClock
    from uedge.config import parse_config_io
    from uedge.edge import Edge
    from uedge.outbox import MemoryOutbox
    from uedge.scheduler import Scheduler
    import uedge.sources.simulated  # noqa: F401

    # the rest of what the board firmware loads (OTA, on-board I/O, RTU, glue)
    for name in ("uedge.ota", "uedge.sources.onboard", "uedge.sources.modbus_rtu",
                 "uedge_fw.led", "uedge_fw.net", "uedge_fw.settings"):
        try:
            __import__(name)
        except ImportError:
            pass

    class Transport:
        """Batches like MuranoMQTT.record (JSON encode), delivery acknowledged at once."""

        def __init__(self):
            self.connected = True
            self.on_update = self.on_ack = self.on_state = None
            self.sent = 0
            self.nbytes = 0

        def poll(self, now_ms=None):
            pass

        def record(self, entries):
            p = murano.batch_payload(entries)
            self.sent += len(entries)
            self.nbytes += len(p)
            return None

        def write(self, alias, value):
            self.nbytes += len(value)
            return None

        def close(self):
            pass

    chans = {}
    for i in range(CHANNELS):
        fn = ("sine", "random", "counter", "square")[i % 4]
        chans["%03d" % (i + 1)] = {
            "display_name": "ch%d" % i,
            "properties": {"data_type": "NUMBER", "data_unit": "NONE", "precision": 2},
            "protocol_config": {
                "application": "Simulated",
                "sample_rate": 1000,
                "report_rate": 5000 if i % 2 else 1000,
                "down_sample": ("AVG", "MAX", "MIN", "ACT")[i % 4],
                "app_specific_config": {"function": fn, "period_ms": 60000},
            },
        }
    import json

    cfg_text = json.dumps({"last_edited": "2026-01-01T00:00:00Z", "channels": chans})
    clock = FakeClock(0)
    t = Transport()
    sched = Scheduler(clock, reuse_report=True)
    edge = Edge(clock, sched, t, MemoryOutbox(cap_items=120), replay_rate=5)
    cfg = parse_config_io(cfg_text)
    sched.apply(cfg)
    edge.config = cfg
    del cfg_text, chans
    edge._on_state(True, "bench")
    gc.collect()
    ballast = None  # noqa: F841 - held only to occupy the heap
    if leave_free:
        # Fill the heap so only leave_free bytes stay free: measures the
        # working heap the loop needs beyond the loaded modules.
        ballast = bytearray(max(gc.mem_free() - leave_free, 16))  # noqa: F841
    gc.collect()
    loaded = gc.mem_alloc()
    peak = loaded
    live_peak = loaded
    end = SIM_MINUTES * 60000
    cycles = 0
    alloc_total = 0
    measured = 0
    while clock.now_ms() < end:
        now = clock.now_ms()
        if now == OFFLINE[0]:
            edge._on_state(False, "offline")
            t.connected = False
        elif now == OFFLINE[1]:
            t.connected = True
            edge._on_state(True, "back")
        before = gc.mem_alloc()
        edge.poll(now)
        after = gc.mem_alloc()
        if after >= before and now > 10000 and t.connected:
            alloc_total += after - before
            measured += 1
        if after > peak:
            peak = after
        cycles += 1
        if cycles % 10 == 0:
            gc.collect()
            a = gc.mem_alloc()
            if a > live_peak:
                live_peak = a
        wake = edge.next_wake_ms(now, 1000)
        clock.advance(max(wake - now, 1))
    gc.collect()
    print(
        "RESULT ok modules_heap=%d loaded=%d peak=%d live_peak=%d reports=%d sent=%d "
        "replayed=%d alloc_per_cycle=%d cycles=%d"
        % (loaded - base, loaded, peak, live_peak, edge.reports, t.sent, edge.replayed,
           alloc_total // max(measured, 1), cycles)
    )


def _mpy_main():
    lib = sys.argv[1] if len(sys.argv) > 1 else "lib"
    leave = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    sys.path.insert(0, lib)
    try:
        workload(leave)
    except MemoryError:
        print("RESULT memory_error")


# -- CPython orchestration -------------------------------------------------------


def _host_main():
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="uedge-footprint-")
    try:
        return _measure(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(tmp):
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "tools"))
    import deploy

    mpy = os.path.join(root, ".venv", "bin", "micropython")
    if not os.path.exists(mpy):
        mpy = "micropython"
    sizes = {}
    for board in deploy.BOARDS:
        s = deploy.build(board, os.path.join(tmp, board), quiet=True)
        core = sum(v for k, v in s.items() if k.startswith("lib/uedge/"))
        fw = sum(v for k, v in s.items() if k.startswith("lib/uedge_fw/") or k == "lib/board.mpy")
        src = sum(v for k, v in s.items() if not k.endswith(".mpy"))
        sizes[board] = (core, fw, src)
    lib = os.path.join(tmp, "rp2040", "lib")

    def run(heap, word_adjust=True, leave_free=0):
        # "<n>w": the unix port scales the heap by word size / 4, so the number
        # is the 32-bit board equivalent (the objects of a 64-bit build are
        # twice as big as on an RP2040 or ESP32).
        spec = "%dw" % heap if word_adjust else "%d" % heap
        r = subprocess.run([mpy, "-X", "heapsize=" + spec, os.path.abspath(__file__), lib,
                            str(leave_free)],
                           capture_output=True, text=True, timeout=600)
        for line in r.stdout.splitlines():
            if line.startswith("RESULT ok"):
                return dict(kv.split("=") for kv in line.split()[2:])
        return None

    roomy = run(1024 * 1024, False)
    if roomy is None:
        print("footprint: the workload fails even with a 1 MB heap")
        return 1

    def search(word_adjust):
        lo, hi = 8 * 1024, 512 * 1024
        if run(hi, word_adjust) is None:
            return None
        while hi - lo > 1024:
            mid = (lo + hi) // 2 // 1024 * 1024
            if run(mid, word_adjust) is not None:
                hi = mid
            else:
                lo = mid
        return hi

    hi = search(True)
    hi64 = search(False)
    if hi is None or hi64 is None:
        print("footprint: needs more than 512 KB")
        return 1
    lo_w, hi_w = 0, 256 * 1024
    while hi_w - lo_w > 512:
        mid = (lo_w + hi_w) // 2
        if run(1024 * 1024, False, mid) is not None:
            hi_w = mid
        else:
            lo_w = mid
    print("footprint: %d channels, %d min simulated (1 min offline, queued + replayed), %s reports"
          % (CHANNELS, SIM_MINUTES, roomy["reports"]))
    print("footprint: smallest heap, 32-bit board equivalent: %d KB (-X heapsize=%dw) "
          "[target <= 64 KB; includes the bytecode of .mpy modules loaded into RAM]"
          % (hi // 1024, hi))
    print("footprint: smallest heap on this 64-bit unix port: %d KB" % (hi64 // 1024))
    print("footprint: modules loaded from .mpy (64-bit): %.1f KB of heap; frozen into the "
          "firmware image (boards/<board>/manifest.py) this stays in flash"
          % (int(roomy["modules_heap"]) / 1024))
    print("footprint: working heap beyond the loaded modules: %.1f KB on 64-bit, about %.1f KB "
          "on a 32-bit board (what a frozen-module firmware needs) [target <= 64 KB]"
          % (hi_w / 1024, hi_w / 2048))
    print("footprint: peak live heap after gc (64-bit): %.1f KB (after load %.1f KB)"
          % (int(roomy["live_peak"]) / 1024, int(roomy["loaded"]) / 1024))
    print("footprint: allocated per loop pass while connected: %s bytes (mean over %s passes)"
          % (roomy["alloc_per_cycle"], roomy["cycles"]))
    for board, (core, fw, src) in sizes.items():
        print("footprint: %s (%s) .mpy: lib/uedge %.1f KB + firmware %.1f KB = %.1f KB; boot.py+main.py %d bytes"
              % (board, deploy.ARCH[board], core / 1024, fw / 1024, (core + fw) / 1024, src))
    return 0


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        _mpy_main()
    else:
        sys.exit(_host_main())
