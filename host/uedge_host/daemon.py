"""The gateway edge daemon (`uedge go`): queues, sources, the loop, status, OTA."""

import _signal  # signal.py only adds its enums (~50 KB)
import os
import sys
import time

from uedge.compat import json
from uedge_host import settings as settings_mod

from uedge_host.logsetup import CoreLog, getLogger, setup_logging
from uedge_host.transport import BackgroundConnect, make_transport, token_of, wait_readable, wake_bytes

log = getLogger("uedge")


def package_version():
    """The installed package's version, from its dist-info directory name on
    sys.path (what importlib.metadata finds first, without the ~3.5 MB that
    importing importlib.metadata costs a daemon)."""
    for d in sys.path:
        try:
            names = os.listdir(d or ".")
        except OSError:
            continue
        for n in names:
            if n.startswith("uedge-") and n.endswith(".dist-info"):
                return n[len("uedge-"):-len(".dist-info")]
    return "0.1.0"

# refusals in a row before the operator is told how to provision again
AUTH_FAILURES_BEFORE_WARNING = 3
OTA_RETRY_MS = 60000
IDLE_WAKE_MS = 250


QUEUE_SUFFIX = ".queue.db"


def remove_unused_queues(queue_path):
    """queuing_remove_unused_device: delete the queues of other devices kept in
    the same directory (<other id>.queue.db and its -wal/-shm files)."""
    d = os.path.dirname(os.path.abspath(queue_path))
    mine = os.path.basename(queue_path)
    removed = []
    try:
        names = os.listdir(d)
    except OSError:
        return removed
    for n in sorted(names):
        base = n
        for extra in ("-wal", "-shm", "-journal"):
            if base.endswith(extra):
                base = base[: -len(extra)]
        if not base.endswith(QUEUE_SUFFIX) or base == mine:
            continue
        try:
            os.remove(os.path.join(d, n))
            removed.append(n)
        except OSError as e:
            log.warning("cannot remove unused queue %s: %s", n, e)
    if removed:
        log.info("removed the queues of other devices: %s", ", ".join(removed))
    return removed


def make_outbox(s):
    if not s.queuing:
        return None
    from uedge_host.outbox_lazy import LazyOutbox

    if s.queuing_remove_unused_device:
        remove_unused_queues(s.queue_path)
    return LazyOutbox(s.queue_path, cap_items=s.queue_items, cap_bytes=s.queue_bytes,
                      strategy=s.queuing_drop_strategy, sync=s.queue_sync)


def _register_sources():
    import uedge.sources.simulated  # noqa: F401  registers "Simulated"


_host_sources = {"loaded": False}


def need_sources(applications):
    """Load the fieldbus drivers (pymodbus, python-can, ...) the first time a
    config_io uses an application not registered yet: a gateway that only runs
    simulated or on-board channels never pays for those libraries."""
    from uedge.sources import lookup

    if _host_sources["loaded"] or all(lookup(a) is not None for a in applications):
        return
    _host_sources["loaded"] = True
    try:
        from uedge_host import sources as host_sources
    except ImportError:
        return
    if not hasattr(host_sources, "register_all"):
        return
    try:
        names = host_sources.register_all()
        # the drivers log through the logging package: into the daemon's log
        from uedge_host.logsetup import bridge_stdlib

        bridge_stdlib()
        log.info("fieldbus sources loaded: %s", ", ".join(names or ()))
    except Exception as e:  # a missing/broken optional driver must not stop the daemon
        log.warning("fieldbus sources not available (%s: %s); Simulated still is",
                    type(e).__name__, e)


_STATUS_SEP = (",", ":")
_STATUS_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_status(path, data):
    # one encode (the C encoder; json.dump(f) runs the pure-Python encoder
    # chunk by chunk, ~10x the CPU for a status with 100 channels), then one
    # os.write of the bytes: no text file object for a file written once a
    # second. Replaced by rename, so a reader never sees half of one.
    b = json.dumps(data, separators=_STATUS_SEP, default=str).encode()
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, _STATUS_FLAGS, 0o644)
    try:
        n = 0
        while n < len(b):
            n += os.write(fd, b[n:] if n else b)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class Daemon:
    def __init__(self, s):
        from uedge.compat import Clock
        from uedge.edge import Edge
        from uedge.sync.config_sync import FileStore
        from uedge.pipeline.scheduler import Scheduler

        self.s = s
        self.clock = Clock()
        self.stop = False
        _register_sources()
        raw, self.scheme = make_transport(s, self.clock)
        self.transport = BackgroundConnect(raw, getLogger("uedge.link"))
        # the loop asks the transport itself (not through BackgroundConnect's
        # __getattr__, a failed lookup first) on every pass
        self._raw = raw
        self._sockets = raw.sockets
        self._ready_to_send = raw.ready_to_send
        self.outbox = make_outbox(s)
        self.scheduler = Scheduler(self.clock, reuse_report=True)
        self.token = s.murano_password if s.values.get("auth") == "password" else s.murano_token
        self._auth_warned = False
        self.edge = Edge(
            self.clock, self.scheduler, self.transport, self.outbox,
            store=FileStore(s.config_io_file, s.config_applications_file),
            log=CoreLog(getLogger("uedge.edge")),
            watch=s.watch, local_strategy=s.local_strategy, replay_rate=s.replay_rate,
            batch_items=s.batch_items, batch_bytes=s.batch_bytes, need_sources=need_sources,
            live_batch_ms=s.live_batch_ms,
        )
        self.ota = make_ota(s)
        self._ota_next_check = 0
        self.restart_for_ota = None
        self._last_dropped = self.outbox.dropped if self.outbox is not None else 0
        self._last_corrupted = self.outbox.corrupted if self.outbox is not None else 0
        self.started = time.time()
        self._rates_cfg = None

    def _check_rates(self):
        """Over HTTP the record API keeps one point per second: say so (once per
        config_io) when channels report faster; those samples are merged."""
        cfg = self.edge.config
        if cfg is self._rates_cfg:
            return
        self._rates_cfg = cfg
        if cfg is None or self.scheme not in ("http", "https"):
            return
        fast = [cid for cid in cfg.order if (cfg.channels[cid].report_rate or 1000) < 1000]
        if fast:
            log.warning("HTTP keeps one point per second per resource: %d channels report faster (%s%s); "
                        "the reports of each second are merged into one (the last value of a channel wins, "
                        "counted as 'merged' in uedge status). Use report_rate >= 1000 or MQTT to keep every sample",
                        len(fast), ", ".join(fast[:5]), ", ..." if len(fast) > 5 else "")

    def _persist_identity(self):
        """Write the provisioned token (and the identity) back to the INI."""
        tok = token_of(self.transport)
        if not tok or tok == self.token:
            return
        self.token = tok
        ini = self.s.ini_file
        if not ini:
            log.warning("provisioned, but no INI file (-i) to keep the token in")
            return
        vals = {}
        for k in ("murano_id", "murano_host"):
            if getattr(self.s, k):
                vals[k] = getattr(self.s, k)
        if self.s.murano_port and self.s.origin.get("murano_port") == "cli":
            vals["murano_port"] = self.s.murano_port
        key = "murano_password" if self.s.values.get("auth") == "password" else "murano_token"
        vals[key] = tok
        settings_mod.update_ini(ini, vals)
        log.info("provisioned: %s saved to %s", "password" if key == "murano_password" else "token", ini)

    def _auth_refused(self):
        """The connector keeps refusing the stored credential. It is kept (a
        transient refusal or a briefly wrong endpoint must not strand the
        device) and the link backs off; provisioning again is the operator's
        call (the identity reset in the connector, the credential removed from
        the INI, then a restart)."""
        self._auth_warned = True
        log.warning("the connector refused the credentials %d times in a row; they are kept and "
                    "retried with backoff. If the identity was reset in the connector, remove "
                    "murano_token (or murano_password) from %s and restart to provision again",
                    AUTH_FAILURES_BEFORE_WARNING, self.s.ini_file or "the INI file")

    def _report_queue(self):
        ob = self.outbox
        if ob is None:
            return
        if ob.dropped != self._last_dropped:
            log.warning("queue full (%s): %d reports dropped so far (strategy %s)",
                        self.s.queuing_drop_strategy, ob.dropped, ob.strategy)
            self._last_dropped = ob.dropped
        if ob.corrupted != self._last_corrupted:
            log.error("queue: %d damaged records skipped so far: %s", ob.corrupted, ob.last_error)
            self._last_corrupted = ob.corrupted

    def status(self):
        st = self.edge.status()
        st["device"] = self.s.murano_id
        st["endpoint"] = self.s.murano_host
        st["transport"] = self.scheme
        st["pid"] = os.getpid()
        st["started"] = self.started
        st["updated"] = time.time()
        st["queue"]["path"] = self.s.queue_path if self.outbox is not None else None
        if self.ota is not None:
            st["ota"] = self.ota.status()
        return st

    def _poll_ota(self, now):
        """Confirm a pending version once the connector is reached (or roll it
        back when it is not reached in time); while connected, look for a
        newer bundle at start and then every ota_check_interval."""
        o = self.ota
        if o.poll_edge(self.edge, now):
            self._ota_restart("rolled back to %s" % o.version)
            return
        if not self.edge.connected or getattr(self.transport, "busy", False) or now < self._ota_next_check:
            return
        interval_ms = int(self.s.ota_check_interval * 1000)
        o.last_error = None
        v = o.update_and_restart(self.transport)
        if v:
            self._ota_restart("installed %s" % v)
        elif o.last_error:
            interval_ms = min(interval_ms, OTA_RETRY_MS)  # a failed check is retried sooner
        self._ota_next_check = now + interval_ms

    def _ota_restart(self, why):
        self.restart_for_ota = why
        if not self.s.ota_restart_cmd:
            # no restart command: stop cleanly, the service manager starts the
            # new current version (systemd Restart=always, supervisord autorestart)
            log.info("ota: %s; stopping so the service restarts", why)
            self.stop = True

    def _wait(self, ms):
        """Sleep until the next due instant or until the connector sends something."""
        if ms <= 0:
            return
        if self.transport.busy:
            time.sleep(min(ms, 50) / 1000.0)  # a connect attempt owns the sockets
            return
        socks = []
        for sk in self._sockets():
            try:
                if hasattr(sk, "pending") and sk.pending():
                    return  # TLS bytes already decrypted and waiting
            except (OSError, ValueError):
                pass
            socks.append(sk)
        if self._ready_to_send():
            return  # requests queued and a connection free to take them
        if socks:
            try:
                # acks need no wake-up of their own (uedge_host.transport.wake_bytes)
                low = wake_bytes(self._raw, self.scheme, socks)
                if not wait_readable(socks, ms, low) and low > 1:
                    # over MQTT only acks and ping answers can be waiting
                    self.transport.quiet()
                return
            except (OSError, ValueError, TypeError):
                pass
        time.sleep(ms / 1000.0)

    def _status_step(self, now):
        """Every status_interval, before a pass: the status file, after reading what
        waits in the transport's sockets (acks are left there for the next pass,
        see _wait): a report acknowledged is counted as delivered, not in flight."""
        self._check_rates()
        self._report_queue()
        try:
            self.transport.quiet(False)  # the acks that wait are read for the status
            self.transport.poll(now)
        except Exception as e:  # as Edge.poll does
            self.edge.last_error = "transport: %s: %s" % (type(e).__name__, e)
        try:
            write_status(self.s.status_file, self.status())
        except OSError as e:
            log.warning("cannot write status file %s: %s", self.s.status_file, e)

    def run(self, duration=None):
        edge = self.edge
        log.info("uedge %s starting: device %s, %s, queue %s", package_version(), self.s.murano_id,
                 self.s.murano_host, self.s.queue_path if self.outbox is not None else "off")
        edge.start()
        self._check_rates()
        if self.ota is not None:
            self.ota.start(self.clock.now_ms())
        if self.outbox is not None and len(self.outbox):
            log.info("queue holds %d reports from before; replaying once connected", len(self.outbox))
        deadline = time.monotonic() + duration if duration else None
        next_status = 0.0
        clock = self.clock
        while not self.stop:
            t = time.monotonic()
            if t >= next_status:
                next_status = t + self.s.status_interval
                self._status_step(clock.now_ms())
            now = clock.now_ms()
            edge.poll(now)
            if self.token is None or token_of(self._raw) != self.token:
                self._persist_identity()
            if edge.auth_failures >= AUTH_FAILURES_BEFORE_WARNING:
                if not self._auth_warned:
                    self._auth_refused()
            elif self._auth_warned and edge.connected:
                self._auth_warned = False
            if self.ota is not None:
                self._poll_ota(now)
            if deadline is not None and time.monotonic() >= deadline:
                break
            now = clock.now_ms()
            # between samples the loop sleeps in select() on the sockets: an
            # idle wake-up only serves the transport's timers (keepalive,
            # request deadlines, reconnect), a few a second are plenty
            self._wait(edge.next_wake_ms(now, IDLE_WAKE_MS) - now)
        log.info("stopping: delivering what is pending, then saving the queue")
        edge.shutdown(flush_ms=5000)
        self._report_queue()
        st = self.status()
        st["connected"] = False
        st["reason"] = "stopped"
        try:
            write_status(self.s.status_file, st)
        except OSError:
            pass
        log.info("stopped: %d reports delivered, %d queued for later", edge.delivered,
                 len(self.outbox) if self.outbox is not None else 0)
        return 0


def make_ota(s):
    if not s.ota:
        return None
    from uedge_host.ota import HostOta

    ota_log = getLogger("uedge.ota")
    return HostOta(s.ota_base, name=s.ota_name, version=package_version(), restart_cmd=s.ota_restart_cmd,
                   confirm_timeout_s=s.ota_confirm_timeout, log=lambda m: ota_log.info("%s", m))


def go(s, duration=None):
    try:
        setup_logging(s.debug)
    except (settings_mod.SettingsError, OSError) as e:
        print("uedge: logging: %s" % e, file=sys.stderr)
        return 2
    for w in s.warnings:
        log.warning("%s", w)
    try:
        d = Daemon(s)
    except (settings_mod.SettingsError, ValueError) as e:
        log.error("%s", e)
        return 2
    except Exception as e:  # e.g. the queue directory is not writable, bad key files
        log.error("cannot start: %s: %s", type(e).__name__, e)
        return 2

    def _stop(signum, frame):
        d.stop = True

    _signal.signal(_signal.SIGTERM, _stop)
    _signal.signal(_signal.SIGINT, _stop)
    return d.run(duration)
