"""The board application: network, time, settings, the edge loop, OTA, watchdog, LED.

The start (settings, network, transport, the edge loop) is uedge_fw.start
and an OTA check uedge_fw.ota_check: each is loaded for its job and
released after it, so the loop holds the code of neither.

main.py calls main(); any exception that escapes is logged there and the
board restarts cleanly (machine.reset()).  Log lines on the REPL start with
"uedge:", "net:", "ota:", "led:" so a serial console shows what happens.
"""

import gc
import time

import machine

from uedge.compat import Clock, release
from uedge_fw.led import StatusLed

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


def net_checks(net, clock):
    """(the transport's gate, the edge loop's clock_ok) for this network:
    closures made here, in a module that stays, so that the start's module
    (uedge_fw.start) is not kept alive by them once released."""
    return (lambda: net.up), (lambda: clock_is_set(net, clock))


def reserve_tls(s):
    """With TLS, hold the handshake's block (settings tls_reserve) from the
    edge loop's start until the first handshake, and again between sessions
    (uedge.transport.net.tls_reserve). Taken once the config_io load is done:
    the block then sits at the top of the heap that load left (taken before
    it, the load would run beside it: more heap for the same start)."""
    if s["tls"] and s.get("tls_reserve"):
        from uedge.transport.net import tls_reserve

        tls_reserve(s["tls_reserve"])


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
        from uedge_fw import start

        try:
            edge, net = start.start(self)
        finally:
            del start
            release("uedge_fw.start")
        # the edge loop starts from the config_io cache once the start's code
        # is gone: parsing the config is the start's largest heap need
        gc.collect()
        edge.start()
        log("uedge: edge loop started (Onboard and Modbus_RTU sources load when a channel uses them)")
        reserve_tls(self.settings)
        gc.collect()
        clock = self.clock
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
    # is made for an update check (uedge_fw.ota_check) and released after it

    def keep_updater(self, u):
        """Hold u while its version is pending confirmation, else let it go."""
        if u.pending:
            self.updater = u
            return
        self.updater = None
        release("uedge.ota.updater")
        release("uedge.ota.files")

    def check_ota(self, now):
        from uedge_fw import ota_check

        try:
            v = ota_check.check(self, now)
        finally:
            del ota_check
            release("uedge_fw.ota_check")
        if v:
            self.restart("ota: switching to %s" % v)

    def rollback_due(self, now):
        """A pending version that has not reached the connector in time was rolled back."""
        return self.updater is not None and self.updater.poll(now)

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
