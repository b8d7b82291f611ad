"""The footprint workload, run on a 32-bit MicroPython (tools/bench/bench_footprint.py
drives it): the qemu Cortex-M3 board over mpremote, or the 32-bit unix port.

    import mpy_footprint; mpy_footprint.main("run", "/ob")

Phases: "load" (import the firmware's modules), "setup" (also parse the config,
build the edge loop, transport and outbox), "run" (and run the standard
workload: 16 channels, 10 simulated minutes, one minute offline, replayed),
"tls" (the run over MQTT/TLS to the connector: provisioning, the connect,
and for the offline minute the session closed and a reconnect after it).
Prints RESULT lines the host parses.
"""

import sys

CHANNELS = 16
SIM_MINUTES = 10
OFFLINE = (240000, 300000)  # ms of simulated time with the connector away

# simulated hardware modules of the virtual board (source, not board code)
_HW = ("machine", "network", "ntptime")


def _hw():
    for name in _HW:
        try:
            __import__(name)
        except ImportError:
            pass


def _board_modules():
    """Import what uedge_fw.app loads for an MQTT config (Simulated channels
    here) -> the settings the firmware would start with (the defaults)."""
    import board  # noqa: F401  (app.main imports the board profile)
    from uedge_fw import app  # noqa: F401  (module level imports of the firmware)
    from uedge_fw import start  # noqa: F401  (App.run: loaded for the start, released after edge.start())
    from uedge_fw import settings

    d = dict(settings.DEFAULTS)
    if d.get("gc_threshold"):
        import gc

        gc.threshold(d["gc_threshold"])  # as App.run, once the settings are read
    from uedge.compat import release
    from uedge.outbox import segment  # noqa: F401  (make_outbox)
    from uedge.transport import murano_mqtt  # noqa: F401  (make_transport, MQTT)
    import uedge.sources.simulated  # noqa: F401  (the bench's channels)

    d["batch_buffer"] = settings.batch_buffer_bytes(d)
    del settings
    release("uedge_fw.settings")  # as app.App.run, once the transport is made
    # App.run loads the updater at start only when an update was ever
    # installed (uedge.ota.has_state): not on a freshly flashed board
    from uedge.ota import has_state

    if has_state("/nonexistent"):
        raise RuntimeError("no OTA state expected")
    return d


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


def _write_config(cfg_path):
    """The standard workload's config_io: CHANNELS Simulated channels."""
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

    with open(cfg_path, "w") as f:
        f.write(json.dumps({"last_edited": "2026-01-01T00:00:00Z", "channels": chans}))


TLS = None  # (host, port, device id, credentials path, CA path) for phase "tls"
EXACT = [False]  # count each pass's allocation whole: no automatic collections in the loop


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
    from uedge.compat import FakeClock, release
    from uedge.edge import Edge
    from uedge.outbox.segment import SegmentOutbox
    from uedge.pipeline.scheduler import Scheduler
    from uedge.sync.config_sync import FileStore
    from uedge.transport import murano_mqtt as murano
    from uedge.transport.mqtt_client import MQTTClient

    max_update = d.get("max_update", 65536)
    batch_buffer = d["batch_buffer"]
    edge_kw = {}
    for k in ("batch_items", "batch_bytes", "max_inflight"):
        if k in d:
            edge_kw[k] = d[k]

    class Transport:
        """Holds the MQTT client's buffers and the batch buffer as MuranoMQTT
        does; records encode like MuranoMQTT.record; delivery is acknowledged
        at once."""

        def __init__(self):
            self.client = MQTTClient("", "127.0.0.1", 1883, max_packet=max_update + 1024)
            self.batch_buf = bytearray(batch_buffer)
            print("RXBUF %d" % len(self.client.rx_buffer()))
            self.connected = True
            self.on_update = self.on_ack = self.on_state = None
            self.sent = 0
            self.nbytes = 0

        def poll(self, now_ms=None):
            pass

        def record(self, entries):
            p = murano.batch_payload(entries, self.batch_buf if len(entries) > 1 else None)
            self.sent += len(entries)
            self.nbytes += len(p)
            return None

        def write(self, alias, value):
            self.nbytes += len(value)
            return None

        def close(self):
            pass

    # the config_io cache file the firmware starts from (FileStore, Edge.start),
    # written in a function of its own: no stale reference to its text stays
    # in this frame
    cfg_path = outbox_dir + ".config_io.json"
    _write_config(cfg_path)
    gc.collect()
    clock = FakeClock(0)
    if phase == "tls":
        from mpy_footprint_tls import TlsTransport  # only in this phase: not in the others' heap

        t = TlsTransport(TLS, max_update + 1024, batch_buffer)
    else:
        t = Transport()
    ob = SegmentOutbox(outbox_dir, cap_bytes=d.get("outbox_bytes", 65536), segment_bytes=4096)
    sched = Scheduler(clock, reuse_report=True)
    # as uedge_fw.app builds it: a FileStore, a replay message of at most
    # 3 x batch_bytes encoded, the config_io cache parsed and applied by start()
    edge = Edge(clock, sched, t, ob, store=FileStore(cfg_path, outbox_dir + ".config_applications.json"),
                replay_rate=5, message_bytes=3 * d.get("batch_bytes", 4096),
                need_sources=lambda apps: None,  # the bench's Simulated is loaded: Edge reads the names
                **edge_kw)
    release("uedge_fw.start")  # as App.run: the start's code goes before Edge.start()
    gc.collect()
    edge.start()
    if edge.config is None:
        print("RESULT incomplete config_io not applied: %s" % edge.last_error)
        return
    if phase == "tls":
        from uedge.transport.net import tls_reserve

        tls_reserve(d.get("tls_reserve", 0))  # as uedge_fw.app.reserve_tls, after start()
        t.connect()  # as the firmware: the link comes up after start()
    if not edge.connected:
        edge._on_state(True, "bench")
    gc.collect()
    loaded = gc.mem_alloc()
    if phase == "setup":
        print("RESULT ok modules_heap=%d loaded=%d" % (mods, loaded - base))
        return
    if EXACT[0]:
        # the run whose allocation per pass is the figure (a roomy heap): with
        # gc_threshold a collection inside a pass would hide what it allocated
        gc.threshold(-1)
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
            if phase == "tls":
                t.offline()  # the session really goes: a reconnect is part of the run
            t.connected = False
        elif now == OFFLINE[1]:
            if phase == "tls":
                t.online()
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
    if phase == "tls" and not t.drain():
        print("RESULT incomplete acks=%d published=%d" % (t.acks, t.published))
        return
    if edge.replayed == 0 or t.sent < edge.reports:
        print("RESULT incomplete reports=%d sent=%d replayed=%d last_error=%s"
              % (edge.reports, t.sent, edge.replayed, edge.last_error))
        return
    print(
        "RESULT ok modules_heap=%d loaded=%d peak=%d live_peak=%d reports=%d sent=%d "
        "replayed=%d alloc_per_cycle=%d cycles=%d"
        % (mods, loaded - base, peak - base, live_peak - base, edge.reports, t.sent, edge.replayed,
           alloc_total // max(measured, 1), cycles)
    )


def _rmtree(path):
    import os

    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            _rmtree(p)
    try:
        os.rmdir(path)
    except OSError:
        pass


def main(phase, outbox_dir, tls=None, exact=False):
    global TLS
    import gc

    TLS = tls
    EXACT[0] = exact
    import os

    _rmtree(outbox_dir)
    for name in (".config_io.json", ".config_io.sync.json"):  # the config cache and its sync state
        try:
            os.remove(outbox_dir + name)
        except OSError:
            pass
    os.mkdir(outbox_dir)
    gc.collect()
    held = 0
    try:
        import _board  # qemu-m3: the block held to set the heap size is not in use

        held = _board.heap_held()
    except ImportError:
        pass
    # this module's own bytecode and the runtime's baseline: not uedge's
    print("ENTRY %d" % (gc.mem_alloc() - held))
    try:
        workload(outbox_dir, phase)
    except MemoryError as e:
        print("RESULT memory_error")
        sys.print_exception(e, sys.stdout)  # where the heap ran out (bench_footprint shows it)
    except Exception as e:  # e.g. a TLS handshake that found no memory (OSError ENOMEM)
        print("RESULT error %s: %s" % (type(e).__name__, e))
        sys.print_exception(e, sys.stdout)
    _rmtree(outbox_dir)


if __name__ == "__main__" and sys.implementation.name == "micropython" and len(getattr(sys, "argv", ())) > 2:
    main(sys.argv[1], sys.argv[2])
