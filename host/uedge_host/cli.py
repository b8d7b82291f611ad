"""`uedge` / `edged` command line: the gateway edge daemon and its helpers.

    uedge -s <DEVICE_ID> -H <ENDPOINT> -i <DEVICE_ID>.ini go     (as edged does)
    uedge -i <DEVICE_ID>.ini status
    uedge run --config config_io.json --dry-run
    uedge connector ...                                         (local IoT Connector)
"""

import argparse
import json
import logging
import os
import select
import signal
import sys
import threading
import time

from uedge_host import settings as settings_mod

log = logging.getLogger("uedge")

LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
AUTH_FAILURES_BEFORE_REPROVISION = 3

EPILOG = """\
commands:
  go          run the edge daemon (provision, report data_in, apply config_io,
              config_applications and data_out, store and forward)
  status      show the running daemon's connection, channels and queue
  run         `uedge run --config FILE --dry-run`: check a config_io and print
              what would be sampled and reported, without a connector
  connector   run the local IoT Connector (`uedge connector --help`)
  version     print the version

Settings come from (highest first) the command line, EDGED_<NAME> environment
variables (EDGED_MURANO_ID, EDGED_MURANO_HOST, ...), the INI file (edged.ini:
flat `key = value` lines or under any [section]), then defaults.

murano_host selects the transport: mqtts://host[:port] (MQTT over TLS, 8883),
https://host (HTTP device API, 443); mqtt:// and http:// are plain-text for
local testing. A bare host name means https, as with edged.
"""


def _option_name(name):
    return "--" + name.replace("_", "-")


# (field, short option, extra long aliases)
_SHORT = {
    "murano_id": ("-s", ["--serial-number"]),
    "murano_host": ("-H", ["--host"]),
    "murano_port": ("-p", ["--port"]),
    "murano_token": ("-t", ["--token"]),
    "config_io_file": ("-c", []),
    "config_applications_file": ("-a", []),
    "pkey_file": ("-K", ["--murano-pkey-file"]),
    "cert_file": ("-C", ["--murano-cert-file"]),
    "ca_file": ("-E", ["--murano-ca-file"]),
    "debug": ("-d", []),
    "local_strategy": ("-l", []),
    "watchlist": ("-W", []),
}


_METAVAR = {"debug": "LEVEL", "murano_port": "PORT", "http_timeout": "SECONDS",
            "reconnect_max": "SECONDS", "replay_rate": "PER_SECOND", "queue_sync": "MODE"}


def _add_settings_options(p, suppress):
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("-i", "--ini-file", dest="ini_file", default=d, metavar="FILE",
                   help="edged INI file (read, and updated with the provisioned token)")
    for name, typ, default, helptext in settings_mod.FIELDS:
        opts = []
        short, aliases = _SHORT.get(name, (None, []))
        if short:
            opts.append(short)
        long_ = _option_name(name)
        if name in ("murano_id", "murano_host", "murano_port", "murano_token"):
            opts.append(long_)
        else:
            opts.append(long_)
        opts.extend(aliases)
        shown = "" if default is None else " [default: %s]" % default
        if typ is bool:
            p.add_argument(*opts, dest=name, action="store_const", const=True, default=d,
                           help="%s%s (--no-%s turns it off)" % (helptext, shown, long_[2:]))
            p.add_argument("--no-" + name.replace("_", "-"), dest=name, action="store_const",
                           const=False, default=d, help=argparse.SUPPRESS)
        else:
            kw = {}
            if name == "debug":
                kw["type"] = str.upper
                kw["choices"] = LEVELS
            p.add_argument(*opts, dest=name, default=d, metavar=_METAVAR.get(name, name.split("_")[-1].upper()),
                           help=helptext + shown, **kw)


def build_parser():
    name = os.path.basename(sys.argv[0] or "")
    p = argparse.ArgumentParser(
        prog="edged" if name == "edged" else "uedge",
        description="uedge: edge client for ExoSense / Murano IoT Connectors (edged compatible).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    _add_settings_options(p, suppress=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    g = sub.add_parser("go", help="run the edge daemon")
    _add_settings_options(g, suppress=True)
    g.add_argument("--duration", type=float, default=None, help="stop after N seconds (tests, demos)")
    st = sub.add_parser("status", help="show the daemon's status")
    _add_settings_options(st, suppress=True)
    st.add_argument("--json", action="store_true", help="print the raw status JSON")
    sub.add_parser("version", help="print the version")
    # handled before parsing (their own command lines); listed for --help
    sub.add_parser("run", help="`uedge run --config FILE --dry-run`: check a config_io offline",
                   add_help=False)
    sub.add_parser("connector", help="the local IoT Connector (`uedge connector --help`)",
                   add_help=False)
    return p


def _version():
    try:
        from importlib.metadata import version

        return version("uedge")
    except Exception:
        return "0.1.0"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # helpers with their own command lines
    if argv and argv[0] == "connector":
        import uedge_connector

        return uedge_connector.main(argv[1:])
    if argv and argv[0] == "run":
        rest = argv[1:]
        if "--dry-run" in rest:
            from uedge_host import dryrun

            return dryrun.main(rest)
        # `uedge run --config X` without --dry-run: run the daemon with that config_io
        out = []
        i = 0
        while i < len(rest):
            a = rest[i]
            if a == "--config" and i + 1 < len(rest):
                out += ["-c", rest[i + 1]]
                i += 2
                continue
            if a.startswith("--config="):
                out += ["-c", a.split("=", 1)[1]]
            else:
                out.append(a)
            i += 1
        argv = out + ["go"]
    p = build_parser()
    args = p.parse_args(argv)
    if args.version or args.command == "version":
        print("uedge %s" % _version())
        return 0
    cli = {}
    for k, v in vars(args).items():
        if k in settings_mod.NAMES or k == "ini_file":
            if v is not None:
                cli[k] = v
    try:
        s = settings_mod.resolve(cli)
    except settings_mod.SettingsError as e:
        print("uedge: %s" % e, file=sys.stderr)
        return 2
    if args.command == "status":
        from uedge_host import status

        return status.show(s.status_file, as_json=args.json)
    if args.command == "go":
        return go(s, duration=args.duration)
    p.print_help()
    return 2


# -- the daemon -------------------------------------------------------------------


def setup_logging(level):
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _token_of(t):
    tok = getattr(t, "token", None)
    if isinstance(tok, str) and tok:
        return tok
    return getattr(t, "_secret", None)


def make_transport(s, clock):
    """Pick MQTT or HTTP from murano_host; returns the transport."""
    scheme, host, port = settings_mod.parse_endpoint(s.murano_host, s.murano_port)
    cert = s.cert_file if (s.cert_file and s.pkey_file) else None
    key = s.pkey_file if cert else None
    auth = "cert" if cert else "token"
    if not s.murano_id and auth != "cert":
        raise settings_mod.SettingsError(
            "murano_id is not set (use -s/--murano-id, EDGED_MURANO_ID or the INI)"
        )
    tls = scheme in ("mqtts", "https")
    if scheme in ("mqtts", "mqtt"):
        from uedge.murano import MuranoMQTT

        t = MuranoMQTT(host, port, s.murano_id, auth=auth, ca=s.ca_file, cert=cert, key=key,
                       tls=tls, clock=clock, timeout_ms=int(s.http_timeout * 1000),
                       backoff_cap_ms=int(s.reconnect_max * 1000),
                       auth_backoff_ms=int(min(30.0, s.reconnect_max) * 1000),
                       log=lambda m: logging.getLogger("uedge.mqtt").info("%s", m))
    else:
        from uedge.murano_http import MuranoHTTP

        t = _make_http(MuranoHTTP, host, port, s, auth, cert, key, tls, clock)
    if s.murano_token:
        t._secret = s.murano_token
    return t, scheme


def _make_http(cls, host, port, s, auth, cert, key, tls, clock):
    import inspect

    want = {
        "device_id": s.murano_id, "auth": auth, "ca": s.ca_file, "cert": cert, "key": key,
        "tls": tls, "clock": clock, "timeout_ms": int(s.http_timeout * 1000),
        "backoff_cap_ms": int(s.reconnect_max * 1000), "watch": s.watch,
        "auth_backoff_ms": int(min(30.0, s.reconnect_max) * 1000),
        "log": lambda m: logging.getLogger("uedge.http").info("%s", m),
    }
    try:
        params = inspect.signature(cls.__init__).parameters
        kw = dict((k, v) for k, v in want.items() if k in params)
    except (TypeError, ValueError):
        kw = want
    return cls(host, port, **kw)


class BackgroundConnect:
    """Runs the transport's blocking (re)connect attempts in a worker thread.

    A connector that does not answer at all (packets dropped) would otherwise
    hold the loop for up to http_timeout per attempt and samples would be
    skipped; with this, sampling and queueing go on while an attempt waits.
    The transport is only used by one thread at a time (the loop does not touch
    it while an attempt runs) and every callback is delivered on the loop's
    thread, in order, after the attempt ends.
    """

    def __init__(self, transport, logger=None):
        self.__dict__["_t"] = transport
        self.__dict__["_main"] = threading.current_thread()
        self.__dict__["_thread"] = None
        self.__dict__["_events"] = []
        self.__dict__["_lock"] = threading.Lock()
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
            if threading.current_thread() is self._main:
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
        th = self._thread
        return th is not None and th.is_alive()

    @property
    def connected(self):
        return not self.busy and self._t.connected

    def poll(self, now_ms=None):
        t = self._t
        th = self._thread
        if th is not None:
            if th.is_alive():
                return
            self.__dict__["_thread"] = None
            self._flush()
        if t.connected or not hasattr(t, "backoff"):
            t.poll(now_ms)
            return
        now = t.clock.now_ms() if now_ms is None else now_ms
        if not getattr(t, "_want", True) or not t.backoff.ready(now):
            return
        th = threading.Thread(target=self._attempt, args=(now,), name="uedge-connect", daemon=True)
        self.__dict__["_thread"] = th
        th.start()

    def _attempt(self, now):
        from uedge.murano import AuthError, MuranoError

        t = self._t
        try:
            t.connect()
        except AuthError as e:
            d = t.backoff.failed(now, getattr(t, "auth_backoff_ms", 0))
            self._log.info("%s; retry in %d ms", e, d)
            self._relay("on_state")(False, "not authorized")
        except (MuranoError, OSError, ValueError) as e:
            d = t.backoff.failed(now)
            t.last_error = str(e)
            self._log.info("%s; retry in %d ms", e, d)
            self._relay("on_state")(False, str(e))
        except Exception as e:  # never retry in a tight loop, whatever went wrong
            d = t.backoff.failed(now)
            t.last_error = "%s: %s" % (type(e).__name__, e)
            self._log.error("connect failed: %s; retry in %d ms", t.last_error, d)
            self._relay("on_state")(False, t.last_error)

    def close(self):
        th = self._thread
        if th is not None:
            th.join(float(getattr(self._t, "timeout_ms", 10000)) / 1000.0 + 1.0)
            self.__dict__["_thread"] = None
        self._t.close()
        self._flush()


class _Log:
    """logging adapter for the portable edge loop."""

    def __init__(self, logger):
        self.error = logger.error
        self.warning = logger.warning
        self.info = logger.info
        self.debug = logger.debug


def make_outbox(s):
    if not s.queuing:
        return None
    from uedge_host.outbox_sqlite import SqliteOutbox

    return SqliteOutbox(s.queue_path, cap_items=s.queue_items, cap_bytes=s.queue_bytes,
                        strategy=s.queue_strategy, sync=s.queue_sync)


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
        log.info("fieldbus sources loaded: %s", ", ".join(names or ()))
    except Exception as e:  # a missing/broken optional driver must not stop the daemon
        log.warning("fieldbus sources not available (%s: %s); Simulated still is",
                    type(e).__name__, e)


def write_status(path, data):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f, separators=(",", ":"), default=str)
    os.replace(tmp, path)


class Daemon:
    def __init__(self, s):
        from uedge.compat import Clock
        from uedge.edge import Edge, FileStore
        from uedge.scheduler import Scheduler

        self.s = s
        self.clock = Clock()
        self.stop = False
        _register_sources()
        raw, self.scheme = make_transport(s, self.clock)
        self.transport = BackgroundConnect(raw, logging.getLogger("uedge.link"))
        self.outbox = make_outbox(s)
        self.scheduler = Scheduler(self.clock, reuse_report=True)
        self.token = s.murano_token
        self.edge = Edge(
            self.clock, self.scheduler, self.transport, self.outbox,
            store=FileStore(s.config_io_file, s.config_applications_file),
            log=_Log(logging.getLogger("uedge.edge")),
            watch=s.watch, local_strategy=s.local_strategy, replay_rate=s.replay_rate,
            need_sources=need_sources,
        )
        self._last_dropped = self.outbox.dropped if self.outbox is not None else 0
        self._last_corrupted = self.outbox.corrupted if self.outbox is not None else 0
        self.started = time.time()

    def _persist_identity(self):
        """Write the provisioned token (and the identity) back to the INI."""
        tok = _token_of(self.transport)
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
        vals["murano_token"] = tok
        settings_mod.update_ini(ini, vals)
        log.info("provisioned: token saved to %s", ini)

    def _reprovision(self):
        """The token keeps being refused (device reset on the connector?): drop it
        and provision again on the next attempt (the INI gets the new token)."""
        self.edge.auth_failures = 0
        if getattr(self.transport, "auth", "token") == "cert" or not hasattr(self.transport, "forget_credentials"):
            return
        log.warning("the connector refuses the token %d times in a row: provisioning again",
                    AUTH_FAILURES_BEFORE_REPROVISION)
        self.transport.forget_credentials()
        self.token = None

    def _report_queue(self):
        ob = self.outbox
        if ob is None:
            return
        if ob.dropped != self._last_dropped:
            log.warning("queue full (%s): %d reports dropped so far (strategy %s)",
                        self.s.queue_strategy, ob.dropped, ob.strategy)
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
        return st

    def _wait(self, ms):
        """Sleep until the next due instant or until the connector sends something."""
        if ms <= 0:
            return
        t = self.transport
        if getattr(t, "busy", False):
            time.sleep(min(ms, 50) / 1000.0)  # a connect attempt owns the sockets
            return
        socks = []
        for holder in (getattr(t, "_client", None), getattr(t, "_writer", None),
                       getattr(t, "_watcher", None)):
            sk = getattr(holder, "sock", None) if holder is not None else None
            if sk is None:
                continue
            try:
                if hasattr(sk, "pending") and sk.pending():
                    return  # TLS bytes already decrypted and waiting
            except (OSError, ValueError):
                pass
            socks.append(sk)
        w = getattr(t, "_writer", None)
        if w is not None and getattr(t, "connected", False) and not getattr(w, "busy", True):
            try:
                if t.pending():
                    return  # HTTP requests queued and the connection is free
            except Exception:
                pass
        if socks:
            try:
                select.select(socks, [], [], ms / 1000.0)
                return
            except (OSError, ValueError, TypeError):
                pass
        time.sleep(ms / 1000.0)

    def run(self, duration=None):
        edge = self.edge
        log.info("uedge %s starting: device %s, %s, queue %s", _version(), self.s.murano_id,
                 self.s.murano_host, self.s.queue_path if self.outbox is not None else "off")
        edge.start()
        if self.outbox is not None and len(self.outbox):
            log.info("queue holds %d reports from before; replaying once connected", len(self.outbox))
        deadline = time.monotonic() + duration if duration else None
        next_status = 0.0
        clock = self.clock
        while not self.stop:
            now = clock.now_ms()
            edge.poll(now)
            if self.token is None or _token_of(self.transport) != self.token:
                self._persist_identity()
            if edge.auth_failures >= AUTH_FAILURES_BEFORE_REPROVISION:
                self._reprovision()
            t = time.monotonic()
            if t >= next_status:
                next_status = t + 1.0
                self._report_queue()
                try:
                    write_status(self.s.status_file, self.status())
                except OSError as e:
                    log.warning("cannot write status file %s: %s", self.s.status_file, e)
            if deadline is not None and t >= deadline:
                break
            now = clock.now_ms()
            self._wait(edge.next_wake_ms(now, 50) - now)
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


def go(s, duration=None):
    setup_logging(s.debug)
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

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return d.run(duration)


if __name__ == "__main__":
    sys.exit(main())
