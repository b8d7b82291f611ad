"""The board application: network, time, settings, the edge loop, OTA, watchdog, LED.

main.py calls main(); any exception that escapes is logged there and the
board restarts cleanly (machine.reset()).  Log lines on the REPL start with
"uedge:", "net:", "ota:", "led:" so a serial console shows what happens.
"""

import gc
import sys
import time

import machine

from uedge.compat import Clock, release
from uedge.edge import Edge
from uedge.ota import has_state
from uedge.sync.config_sync import FileStore
from uedge.pipeline.scheduler import Scheduler
from uedge.transport.net import set_tick, tls_reserve
from uedge_fw.led import StatusLed
from uedge_fw.net import Network
from uedge_fw.version import VERSION

# "Onboard" (the board's pins) and "Modbus_RTU" (on its UARTs, "UART1", ...)
# are imported only when a channel uses them (App.need_sources): their
# modules cost RAM on a board.
HAVE_RTU = False
HAVE_ONBOARD = False


def log(msg):
    print(msg)


class Log:
    """The edge loop's logger, printing REPL lines."""

    def error(self, msg, *args):
        print("uedge: ERROR " + ((msg % args) if args else msg))

    def warning(self, msg, *args):
        print("uedge: WARNING " + ((msg % args) if args else msg))

    def info(self, msg, *args):
        print("uedge: " + ((msg % args) if args else msg))

    def debug(self, msg, *args):
        pass


class _NoWDT:
    def feed(self):
        pass


def _reserve_tls(s):
    """With TLS, hold the handshake's block from now (before the config_io
    load fragments the heap) until the first handshake; again between sessions."""
    if s["tls"] and s.get("tls_reserve"):
        tls_reserve(s["tls_reserve"])


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

        _reserve_tls(s)
        return MuranoHTTP(s["host"], s["port"] or None, max_response=s["max_update"], **common)
    from uedge.transport.murano_mqtt import MuranoMQTT

    if s["auth"] == "password":
        common["password"] = s["secrets"].get("password")
    _reserve_tls(s)
    # replay batches are built in one buffer taken at start
    from uedge_fw.settings import batch_buffer_bytes

    return MuranoMQTT(s["host"], s["port"] or None, keepalive=s["keepalive"],
                      max_packet=s["max_update"] + 1024,
                      batch_buffer=batch_buffer_bytes(s), **common)


# A board whose reconnects find no heap this many times in a row restarts,
# once it has been connected since boot: a TLS handshake needs one block of
# about 21 KB (mbedTLS's record buffers) plus 12 KB in pieces, and a heap
# fragmented by a long session may not have it although the boot's heap had.
# The edge loop persists what is pending first (Edge.shutdown) and the queue
# is on flash, so nothing is lost; a board that cannot connect even right
# after boot only backs off (no reset loop).
MEMORY_RESTART_AFTER = 3

# A wall clock before this was never set (a board's RTC starts in 2000).
CLOCK_SET_AFTER_US = 1704067200 * 1000000  # 2024-01-01


def clock_is_set(net, clock):
    """Time synced by NTP, or an RTC that already holds a plausible date.
    Until then the edge loop holds back replaying queued reports."""
    return net.synced or clock.epoch_us() >= CLOCK_SET_AFTER_US


def make_outbox(s):
    from uedge.outbox.memory import MemoryOutbox
    from uedge.outbox.segment import SegmentOutbox

    try:
        return SegmentOutbox(s["outbox_dir"], cap_bytes=s["outbox_bytes"], segment_bytes=4096)
    except Exception as e:
        log("uedge: flash queue unavailable (%s), queueing in RAM" % e)
        return MemoryOutbox(cap_items=200)


class App:
    def __init__(self, board, clock=None):
        self.board = board
        self.clock = clock or Clock()
        pin = None
        led_id = getattr(board, "LED", None)
        if led_id is not None:
            try:
                pin = machine.Pin(led_id, machine.Pin.OUT)
            except Exception:
                pin = None
        self.led = StatusLed(pin, getattr(board, "LED_ACTIVE_LOW", False), log)
        self.wdt = _NoWDT()
        self.edge = None
        self.updater = None
        self.was_connected = False
        self.connected_once = False  # since boot
        self.next_ota_ms = 0

    def feed(self, now):
        self.wdt.feed()
        self.led.poll(now)

    def wait(self, ms):
        """Sleep in small steps so the watchdog and LED keep going."""
        end = self.clock.now_ms() + ms
        while True:
            now = self.clock.now_ms()
            self.feed(now)
            if now >= end:
                return
            time.sleep_ms(min(50, end - now))

    def load_settings(self):
        """The settings (uedge_fw.settings: imported for this, released once the
        transport is made)."""
        from uedge_fw import settings

        while True:
            try:
                return settings.load()
            except settings.SettingsError as e:
                log("uedge: ERROR %s" % e)
                self.led.set("error", self.clock.now_ms())
                self.wait(10000)

    def need_sources(self, apps):
        """Edge calls this with the applications a config_io uses, before parsing it."""
        global HAVE_RTU, HAVE_ONBOARD
        if "Onboard" in apps and not HAVE_ONBOARD:
            import uedge.sources.onboard  # noqa: F401  registers "Onboard"

            HAVE_ONBOARD = True
        if "Modbus_RTU" in apps and not HAVE_RTU:
            try:
                from uedge.sources import modbus_rtu
                from uedge_fw import rtu
            except ImportError as e:
                log("uedge: ERROR Modbus_RTU unavailable: %s" % e)
                return
            modbus_rtu.register_source()
            rtu.install(self.board)
            HAVE_RTU = True
            log("uedge: Modbus_RTU loaded")

    def run(self, should_stop=None):
        clock = self.clock
        b = self.board
        log(
            "uedge: firmware %s on %s (%s), reset cause %s"
            % (VERSION, getattr(b, "DESCRIPTION", b.NAME), sys.platform, machine.reset_cause())
        )
        self.led.set("no_network", clock.now_ms())
        s = self.load_settings()
        self.settings = s
        if s.get("gc_threshold"):
            gc.threshold(s["gc_threshold"])  # collect early: the heap stays in fewer pieces
        gc.collect()
        log("uedge: heap %d B free, %d B in use; a collection every %s" % (
            gc.mem_free(), gc.mem_alloc(),
            "%d B allocated" % s["gc_threshold"] if s.get("gc_threshold") else "time the heap is full"))
        if s.get("wdt", True):
            wdt_ms = getattr(b, "WDT_TIMEOUT_MS", 8000)
            self.wdt = machine.WDT(timeout=wdt_ms)
            # connect, the TLS handshake, provisioning and waits for CONNACK /
            # SUBACK feed the watchdog themselves, each blocking socket call
            # at most a quarter of its period: a slow or silent connector
            # costs a failed attempt and a backoff, never a reset loop
            set_tick(self.wdt.feed, wdt_ms // 4)
        self.ota_check_ms = int((s.get("ota") or {}).get("check_s", 3600) * 1000)
        if has_state():
            u = self.new_updater()
            u.start(clock.now_ms())
            log("uedge: running version %s (%s)" % (u.version, "pending confirmation" if u.pending else "confirmed"))
            self.keep_updater(u)
            del u
        else:  # no update ever installed: the factory image, confirmed; no updater loaded
            log("uedge: running version %s (factory image)" % VERSION)

        net = Network(b, s, log=log)
        self.net = net
        # Wait (bounded) for the network and a clock sync before sampling, so
        # the first reports carry real timestamps.
        deadline = clock.now_ms() + int(s["ntp_wait_s"] * 1000)
        while not net.synced and clock.now_ms() < deadline and net.state != "no_config":
            now = clock.now_ms()
            net.poll(now)
            self.led.set("no_network" if not net.up else "connecting", now)
            self.wait(50)
            if self.rollback_due(clock.now_ms()):
                self.restart("ota rollback")
        if not net.synced:
            log("uedge: WARNING starting without a time sync")

        transport = make_transport(s, clock)
        transport.gate = lambda: net.up  # no connect attempt without a link (DeviceLink.gate)
        release("uedge_fw.settings")
        sched = Scheduler(clock, reuse_report=True)  # each report is encoded before the next poll
        store = FileStore(s["config_io_path"], s["config_applications_path"])
        self.edge = edge = Edge(clock, sched, transport, make_outbox(s), store=store, log=Log(),
                                batch_items=s["batch_items"], batch_bytes=s["batch_bytes"],
                                # a replay message, encoded (form encoding triples some bytes)
                                message_bytes=3 * s["batch_bytes"],
                                max_inflight=s["max_inflight"], need_sources=self.need_sources,
                                clock_ok=lambda: clock_is_set(net, clock))
        edge.start()
        log("uedge: edge loop started (Onboard and Modbus_RTU sources load when a channel uses them)")
        gc.collect()
        last_gc = clock.now_ms()
        while not (should_stop and should_stop()):
            now = clock.now_ms()
            self.feed(now)
            up = net.poll(now)
            edge.poll(now)
            if edge.connected:
                self.led.set("connected", now)
                if not self.was_connected:
                    self.was_connected = self.connected_once = True
                    if self.updater is not None and self.updater.contact():
                        self.keep_updater(self.updater)
                    self.next_ota_ms = now + 2000
                if self.ota_check_ms > 0 and now >= self.next_ota_ms:
                    self.check_ota(now)
            else:
                self.was_connected = False
                self.led.set("connecting" if up else "no_network", now)
                if self.memory_restart_due():
                    self.restart("%d reconnects found no heap: restarting from a clean one"
                                 % edge.transport.memory_failures)
            if self.rollback_due(now):
                self.restart("ota rollback")
            if now - last_gc > 5000:
                gc.collect()
                last_gc = now
            wake = edge.next_wake_ms(clock.now_ms(), 50)
            d = wake - clock.now_ms()
            if d > 0:
                time.sleep_ms(min(d, 50))

    def memory_restart_due(self):
        """Connected since boot, and the last MEMORY_RESTART_AFTER reconnects
        ran out of memory (DeviceLink.memory_failures)."""
        return (self.connected_once and self.edge is not None
                and getattr(self.edge.transport, "memory_failures", 0) >= MEMORY_RESTART_AFTER)

    # -- OTA: the updater (uedge.ota.updater) is held only while the running
    # version is pending confirmation (its rollback timer runs); otherwise it
    # is made for an update check and released after it

    def new_updater(self):
        from uedge.ota import updater

        o = self.settings.get("ota") or {}
        b = self.board
        return updater.Updater("", o.get("name") or getattr(b, "BUNDLE_NAME", "uedge-" + b.NAME), VERSION,
                               confirm_timeout_s=o.get("confirm_s", 300), log=log, tick=self.wdt.feed)

    def keep_updater(self, u):
        """Hold u while its version is pending confirmation, else let it go."""
        if u.pending:
            self.updater = u
            return
        self.updater = None
        release("uedge.ota.updater")
        release("uedge.ota.files")

    def rollback_due(self, now):
        """A pending version that has not reached the connector in time was rolled back."""
        return self.updater is not None and self.updater.poll(now)

    def check_ota(self, now):
        self.next_ota_ms = now + self.ota_check_ms
        self.feed(now)
        try:
            u = self.updater or self.new_updater()
            v = u.update(self.edge.transport, lambda v: self.led.set("ota", now))
            self.keep_updater(u)
            del u
        finally:
            # the content listing and download code, loaded for the check
            release("uedge.transport.mqtt_content")
            release("uedge.transport.http_content")
            self.feed(self.clock.now_ms())
        if v:
            self.restart("ota: switching to %s" % v)

    def restart(self, why):
        log("uedge: restarting: %s" % why)
        if self.edge is not None:
            try:
                self.edge.shutdown(2000)
            except Exception as e:
                log("uedge: shutdown: %s" % e)
        machine.reset()


def main(board=None):
    if board is None:
        import board
    App(board).run()
