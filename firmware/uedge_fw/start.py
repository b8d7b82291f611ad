"""The board's start (uedge_fw.app.App.run, before its loop): the settings,
the watchdog, the running version, the network and a time sync, then the
transport, the queue and the edge loop (which App.run starts from the
config_io cache once this module is released).

App.run imports this module for the start and releases it after
(uedge.compat.release): a board's loop does not hold its code.
"""

import gc
import sys

import machine

from uedge.compat import release
from uedge.edge import Edge
from uedge.ota import has_state
from uedge.pipeline.scheduler import Scheduler
from uedge.sync.config_sync import FileStore
from uedge.transport.net import set_tick
from uedge_fw.app import Log, log, net_checks
from uedge_fw.net import Network
from uedge_fw.version import VERSION


def make_transport(s, clock):
    common = dict(
        device_id=s["device_id"],
        auth=s["auth"],
        credentials_path=s["token_path"],
        ca=s.get("ca"),
        tls=bool(s["tls"]),
        clock=clock,
        timeout_ms=s["timeout_ms"],
        backoff_cap_ms=int(s["reconnect_cap_s"] * 1000),
        log=log,
    )
    # receive buffers are sized by max_update (the largest config_io & co. accepted)
    if s["protocol"] == "http":
        from uedge.transport.murano_http import MuranoHTTP

        return MuranoHTTP(s["host"], s["port"] or None, max_response=s["max_update"], **common)
    from uedge.transport.murano_mqtt import MuranoMQTT

    if s["auth"] == "password":
        common["password"] = s["secrets"].get("password")
    # replay batches are built in one buffer taken at start
    from uedge_fw.settings import batch_buffer_bytes

    return MuranoMQTT(s["host"], s["port"] or None, keepalive=s["keepalive"],
                      max_packet=s["max_update"] + 1024,
                      batch_buffer=batch_buffer_bytes(s), **common)


def make_outbox(s):
    from uedge.outbox.memory import MemoryOutbox
    from uedge.outbox.segment import SegmentOutbox

    try:
        return SegmentOutbox(s["outbox_dir"], cap_bytes=s["outbox_bytes"], segment_bytes=4096)
    except Exception as e:
        log("uedge: flash queue unavailable (%s), queueing in RAM" % e)
        return MemoryOutbox(cap_items=200)


def load_settings(app):
    """The settings (uedge_fw.settings: imported for this, released once the
    transport is made)."""
    from uedge_fw import settings

    while True:
        try:
            return settings.load()
        except settings.SettingsError as e:
            log("uedge: ERROR %s" % e)
            app.led.set("error", app.clock.now_ms())
            app.wait(10000)


def start(app):
    """Everything before the loop -> (edge, net); App.run starts the edge
    loop (Edge.start) once this module is released."""
    clock = app.clock
    b = app.board
    log(
        "uedge: firmware %s on %s (%s), reset cause %s"
        % (VERSION, getattr(b, "DESCRIPTION", b.NAME), sys.platform, machine.reset_cause())
    )
    app.led.set("no_network", clock.now_ms())
    s = load_settings(app)
    app.settings = s
    if s.get("gc_threshold"):
        gc.threshold(s["gc_threshold"])  # collect early: the heap stays in fewer pieces
    gc.collect()
    log("uedge: heap %d B free, %d B in use; a collection every %s" % (
        gc.mem_free(), gc.mem_alloc(),
        "%d B allocated" % s["gc_threshold"] if s.get("gc_threshold") else "time the heap is full"))
    if s.get("wdt", True):
        wdt_ms = getattr(b, "WDT_TIMEOUT_MS", 8000)
        app.wdt = machine.WDT(timeout=wdt_ms)
        # connect, the TLS handshake, provisioning and waits for CONNACK /
        # SUBACK feed the watchdog themselves, each blocking socket call
        # at most a quarter of its period: a slow or silent connector
        # costs a failed attempt and a backoff, never a reset loop
        set_tick(app.wdt.feed, wdt_ms // 4)
    app.ota_check_ms = int((s.get("ota") or {}).get("check_s", 3600) * 1000)
    if has_state():
        from uedge_fw.ota_check import new_updater

        u = new_updater(app)
        u.start(clock.now_ms())
        log("uedge: running version %s (%s)" % (u.version, "pending confirmation" if u.pending else "confirmed"))
        app.keep_updater(u)
        del u
        release("uedge_fw.ota_check")
    else:  # no update ever installed: the factory image, confirmed; no updater loaded
        log("uedge: running version %s (factory image)" % VERSION)

    net = Network(b, s, log=log)
    app.net = net
    # Wait (bounded) for the network and a clock sync before sampling, so
    # the first reports carry real timestamps.
    deadline = clock.now_ms() + int(s["ntp_wait_s"] * 1000)
    while not net.synced and clock.now_ms() < deadline and net.state != "no_config":
        now = clock.now_ms()
        net.poll(now)
        app.led.set("no_network" if not net.up else "connecting", now)
        app.wait(50)
        if app.rollback_due(clock.now_ms()):
            app.restart("ota rollback")
    if not net.synced:
        log("uedge: WARNING starting without a time sync")

    # no closure is made in this module: one would hold its globals, all of
    # its code, after the release
    gate, clock_ok = net_checks(net, clock)
    transport = make_transport(s, clock)
    transport.gate = gate  # no connect attempt without a link (DeviceLink.gate)
    release("uedge_fw.settings")
    sched = Scheduler(clock, reuse_report=True)  # each report is encoded before the next poll
    store = FileStore(s["config_io_path"], s["config_applications_path"])
    app.edge = edge = Edge(clock, sched, transport, make_outbox(s), store=store, log=Log(),
                           batch_items=s["batch_items"], batch_bytes=s["batch_bytes"],
                           # a replay message, encoded (form encoding triples some bytes)
                           message_bytes=3 * s["batch_bytes"],
                           max_inflight=s["max_inflight"], need_sources=app.need_sources,
                           clock_ok=clock_ok)
    return edge, net
