"""The gateway's transport: MQTT or HTTP from the settings, and BackgroundConnect,
which runs blocking (re)connect attempts in a worker thread."""

# _thread, not threading: one worker and one lock are all this needs, and
# threading (with its imports) is ~0.25 MB of the daemon's memory
import _socket
import _thread
import select
import sys

from uedge_host import settings as settings_mod
from uedge_host.logsetup import getLogger

log = getLogger("uedge")

# -- how much the daemon's wait may leave unread --------------------------------------
# The daemon sleeps in select() on the transport's sockets between passes. Over
# MQTT most of what arrives are PUBACKs (one per report) and PINGRESPs: poll()
# reads them on the next pass, at most a sampling interval or the idle wake
# (250 ms) later, against ack and keepalive deadlines of seconds, so they need
# no wake-up of their own. Every update from the connector
# ($resource/<alias>/<timestamp>) is a PUBLISH of at least MQTT_UPDATE_MIN
# bytes, and over TLS in records adding at least TLS_RECORD_MIN bytes (header
# and AEAD tag), while a PUBACK is 4 bytes (a record of at most 33) and a
# PINGRESP 2. So the wait sets SO_RCVLOWAT (Linux: select() reports a TCP
# socket readable once that many bytes are queued, or at end of stream or an
# error) to the smallest update: an update still ends the wait at once, an ack
# alone does not. While a packet or a TLS record has arrived only in part,
# its rest may be any size: then any byte ends the wait.
_RCVLOWAT = getattr(_socket, "SO_RCVLOWAT", None) if sys.platform.startswith("linux") else None
# a pass after a wait that ran out reads the sockets only when the last read is
# this old (BackgroundConnect.quiet): acks wait at most one more pass
QUIET_READ_MS = 150
MQTT_UPDATE_MIN = 24  # fixed header 2, topic length 2, "$resource/" + >= 1 + "/" + >= 1
TLS_RECORD_MIN = 21


def wake_bytes(t, scheme, socks):
    """Received bytes on socks (t's) that end the daemon's wait (1: any)."""
    if _RCVLOWAT is None or scheme not in ("mqtt", "mqtts") or t.receiving():
        return 1
    for sk in socks:
        if getattr(sk, "partial", False):
            return 1
    return MQTT_UPDATE_MIN + (TLS_RECORD_MIN if scheme == "mqtts" else 0)


def wait_readable(socks, ms, low=1):
    """select() on socks for up to ms, ended early once one has low bytes
    queued (SO_RCVLOWAT; the sockets get 1 again after), its end of stream or
    an error. -> True when one did (False: the time ran out)."""
    if low > 1:
        for sk in socks:
            sk.setsockopt(_socket.SOL_SOCKET, _RCVLOWAT, low)
    try:
        return bool(select.select(socks, [], [], ms / 1000.0)[0])
    finally:
        if low > 1:
            for sk in socks:
                try:
                    sk.setsockopt(_socket.SOL_SOCKET, _RCVLOWAT, 1)
                except (OSError, ValueError):
                    pass


def token_of(t):
    return t.credential


def make_transport(s, clock):
    """Pick MQTT or HTTP from murano_host; returns the transport. Its TLS
    connections go through uedge_host.tls (the C modules, without ssl.py)."""
    from uedge_host import tls

    tls.install()
    scheme, host, port = settings_mod.parse_endpoint(s.murano_host, s.murano_port)
    auth = s.values.get("auth") or "token"
    cert = s.certfile if auth == "cert" else None
    key = s.pkeyfile if cert else None
    if not s.murano_id and auth != "cert":
        raise settings_mod.SettingsError(
            "murano_id is not set (use -s/--murano-id, EDGED_MURANO_ID or the INI)"
        )
    tls = scheme in ("mqtts", "https")
    common = dict(auth=auth, ca=s.murano_cacert, cert=cert, key=key, tls=tls, clock=clock,
                  timeout_ms=int(s.request_timeout * 1000), backoff_cap_ms=int(s.reconnect_max * 1000),
                  auth_backoff_ms=int(min(30.0, s.reconnect_max) * 1000))
    if scheme in ("mqtts", "mqtt"):
        from uedge.transport.murano_mqtt import MuranoMQTT

        t = MuranoMQTT(host, port, s.murano_id, password=s.murano_password if auth == "password" else None,
                       log=lambda m: getLogger("uedge.mqtt").info("%s", m), **common)
    else:
        if auth == "password":
            raise settings_mod.SettingsError(
                "password auth is for MQTT (mqtts://): the HTTP device API authenticates with a "
                "token (X-Exosite-CIK) or a client certificate")
        from uedge.transport.murano_http import MuranoHTTP

        t = MuranoHTTP(host, port, s.murano_id, long_poll_ms=s.http_long_poll_ms, watch=s.watch,
                       log=lambda m: getLogger("uedge.http").info("%s", m), **common)
    secret = s.murano_password if auth == "password" else s.murano_token
    if secret and auth != "cert":
        t.set_credentials(secret)
    return t, scheme


class BackgroundConnect:
    """Runs the transport's blocking (re)connect attempts in a worker thread.

    A connector that does not answer at all (packets dropped) would otherwise
    hold the loop for up to request_timeout per attempt and samples would be
    skipped; with this, sampling and queueing go on while an attempt waits.
    The transport is only used by one thread at a time (the loop does not touch
    it while an attempt runs) and every callback is delivered on the loop's
    thread, in order, after the attempt ends.
    """

    def __init__(self, transport, logger=None):
        self.__dict__["_t"] = transport
        self.__dict__["_main"] = _thread.get_ident()
        self.__dict__["_running"] = None  # held by the attempt running in the worker
        self.__dict__["_events"] = []
        self.__dict__["_quiet"] = False  # see quiet()
        self.__dict__["_read_ms"] = -QUIET_READ_MS
        self.__dict__["_lock"] = _thread.allocate_lock()
        self.__dict__["_log"] = logger or log
        self.on_update = self.on_ack = self.on_state = self.on_reject = None
        for name in ("on_update", "on_ack", "on_state", "on_reject"):
            if hasattr(transport, name):
                setattr(transport, name, self._relay(name))

    def __getattr__(self, name):
        return getattr(self.__dict__["_t"], name)

    def __setattr__(self, name, value):
        if name.startswith("on_") or name in self.__dict__:
            self.__dict__[name] = value
        else:
            setattr(self.__dict__["_t"], name, value)

    def _relay(self, name):
        def cb(*args):
            if _thread.get_ident() == self._main:
                f = self.__dict__.get(name)
                if f is not None:
                    f(*args)
            else:
                with self._lock:
                    self._events.append((name, args))
        return cb

    def _flush(self):
        with self._lock:
            events = self._events[:]
            del self._events[:]
        for name, args in events:
            f = self.__dict__.get(name)
            if f is not None:
                f(*args)

    @property
    def busy(self):
        r = self._running
        return r is not None and r.locked()

    @property
    def connected(self):
        return not self.busy and self._t.connected

    def quiet(self, on=True):
        """on: the daemon's wait ran out with nothing ending it (wait_readable
        False), so at most acks and ping answers wait in the socket: the next
        poll() leaves them there when the last read is less than
        QUIET_READ_MS old, and they are read on the pass after. off: the next
        poll() reads whatever waits."""
        self.__dict__["_quiet"] = on

    def poll(self, now_ms=None):
        t = self._t
        r = self._running
        if r is not None:
            if r.locked():
                return
            self.__dict__["_running"] = None
            self._flush()
        if t.connected or not hasattr(t, "backoff"):
            d = self.__dict__
            now = now_ms if now_ms is not None else t.clock.now_ms() if hasattr(t, "clock") else None
            if d["_quiet"]:
                d["_quiet"] = False
                if now is not None and now - d["_read_ms"] < QUIET_READ_MS:
                    return
            d["_read_ms"] = now if now is not None else 0
            t.poll(now_ms)
            return
        now = t.clock.now_ms() if now_ms is None else now_ms
        if not getattr(t, "_want", True) or not t.backoff.ready(now):
            return
        done = _thread.allocate_lock()
        done.acquire()
        self.__dict__["_running"] = done
        try:
            _thread.start_new_thread(self._run, (now, done))
        except RuntimeError as e:  # cannot start a thread: try again after the backoff
            self.__dict__["_running"] = None
            done.release()
            t.retry_after(now)
            t.last_error = "cannot start the connect thread: %s" % e

    def _run(self, now, done):
        try:
            self._attempt(now)
        finally:
            done.release()

    def _attempt(self, now):
        from uedge.transport.link import AuthError, MuranoError

        t = self._t
        try:
            t.connect()
        except AuthError as e:
            d = t.retry_after(now, True)
            self._log.info("%s; retry in %d ms", e, d)
            self._relay("on_state")(False, "not authorized")
        except (MuranoError, OSError, ValueError) as e:
            d = t.retry_after(now)
            t.last_error = str(e)
            self._log.info("%s; retry in %d ms", e, d)
            self._relay("on_state")(False, str(e))
        except Exception as e:  # never retry in a tight loop, whatever went wrong
            d = t.retry_after(now)
            t.last_error = "%s: %s" % (type(e).__name__, e)
            self._log.error("connect failed: %s; retry in %d ms", t.last_error, d)
            self._relay("on_state")(False, t.last_error)

    def close(self):
        r = self._running
        if r is not None:
            if r.acquire(True, float(getattr(self._t, "timeout_ms", 10000)) / 1000.0 + 1.0):
                r.release()
            self.__dict__["_running"] = None
        self._t.close()
        self._flush()
