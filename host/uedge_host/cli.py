"""`uedge` / `edged` command line: the gateway edge daemon and its helpers.

    uedge -s <DEVICE_ID> -H <ENDPOINT> -i <DEVICE_ID>.ini go     (as edged does)
    uedge -i <DEVICE_ID>.ini status
    uedge run --config config_io.json --dry-run
    uedge connector ...                                         (local IoT Connector)
"""

import argparse
import json
import logging
import logging.handlers
import os
import select
import signal
import sys
import threading
import time

from uedge_host import settings as settings_mod

log = logging.getLogger("uedge")

LEVELS = settings_mod.LEVELS
AUTH_FAILURES_BEFORE_REPROVISION = 3
OTA_RETRY_MS = 60000

COMMANDS = (
    ("go", "run the edge daemon (provision, report data_in, apply config_io,\n"
           "config_applications and data_out, store and forward)"),
    ("status", "show the running daemon's connection, channels and queue"),
    ("run", "`uedge run --config FILE --dry-run`: check a config_io and print\n"
            "what would be sampled and reported, without a connector"),
    ("connector", "run the local IoT Connector (`uedge connector --help`)"),
    ("version", "print the version"),
)


def _commands_text():
    lines = []
    for name, text in COMMANDS:
        parts = text.split("\n")
        lines.append("  %-11s %s" % (name, parts[0]))
        lines.extend("  %-11s %s" % ("", p) for p in parts[1:])
    return "\n".join(lines)


EPILOG = """\
commands:
%s

Settings come from (highest first) the command line, EDGED_<NAME> environment
variables (EDGED_MURANO_ID, EDGED_MURANO_HOST, ...), the INI file (edged.ini:
flat `key = value` lines or under any [section]), then defaults. Logging:
EDGED_LOG_FILENAME (stdout, stderr or a file, rotated at EDGED_LOG_MAX_BYTES,
EDGED_LOG_MAX_BACKUPS kept), EDGED_LOG_DEBUG (level when --debug is not set).

murano_host selects the transport: mqtts://host[:port] (MQTT over TLS, 8883),
https://host (HTTP device API, 443); mqtt:// and http:// are plain-text for
local testing. A bare host name means https, as with edged.
""" % _commands_text()

# Command line options of each setting: the first ones are shown in --help
# (edged's spelling), the aliases after "|" are accepted but not listed there.
_OPTIONS = {
    "murano_id": ("-s --murano-id | --serial-number", "SN"),
    "murano_host": ("-H --murano-host | --host", "HOST"),
    "murano_port": ("-p --murano-port | --port", "PORT"),
    "murano_token": ("-t --murano-token | --token", "TOKEN"),
    "pkeyfile": ("-K --pkeyfile | --pkey-file --murano-pkey-file", "PKEY"),
    "certfile": ("-C --certfile | --cert-file --murano-cert-file", "CERT"),
    "murano_cacert": ("-E --murano-cacert | --ca-file --murano-ca-file", "CACERT"),
    "config_io_file": ("-c --config-io-file", "FILE"),
    "config_applications_file": ("-a --config-applications-file", "FILE"),
    "watchlist": ("-W --watchlist", "LIST"),
    "debug": ("-d --debug", "LEVEL"),
    "http_timeout": ("--http-timeout", "TIMEOUT"),
    "queuing": ("-q --queuing", "BOOL"),
    "queuing_batch_amount": ("--queuing-batch-amount", "NUMBER"),
    "queuing_db_max_size": ("--queuing-db-max-size", "BYTE"),
    "queuing_db_path": ("--queuing-db-path | --queue-path", "PATH"),
    "queuing_drop_strategy": ("--queuing-drop-strategy | --queue-strategy", "{oldest,latest}"),
    "queuing_record_rate": ("--queuing-record-rate", "SECOND"),
    "queuing_remove_unused_device": ("--queuing-remove-unused-device", "BOOL"),
    "local_strategy": ("-l --local-strategy", None),
    "request_timeout": ("--request-timeout", "SECONDS"),
    "queue_size": ("--queue-size", "SIZE"),
    "queue_sync": ("--queue-sync", "{off,normal,full}"),
    "replay_rate": ("--replay-rate", "PER_SECOND"),
    "reconnect_max": ("--reconnect-max", "SECONDS"),
    "status_file": ("--status-file", "FILE"),
    "ota": ("--ota", None),
    "ota_base": ("--ota-base", "DIR"),
    "ota_name": ("--ota-name", "NAME"),
    "ota_restart_cmd": ("--ota-restart-cmd", "CMD"),
    "ota_check_interval": ("--ota-check-interval", "SECONDS"),
    "ota_confirm_timeout": ("--ota-confirm-timeout", "SECONDS"),
}

# settings taking a true/false value (`-q False`); the value may be left out
# (`--queuing` alone means true) and `--no-<name>` means false
_VALUE_BOOLS = ("queuing", "queuing_remove_unused_device")
# options whose value is optional: the value is filled in before parsing when
# what follows is another option or a command
_OPTIONAL_VALUE = {"-q": "true", "--queuing": "true", "--queuing-remove-unused-device": "true",
                   "--strategy": "local"}

# edged options that edged itself deprecated: accepted, warned about
_DEPRECATED_FLAGS = ("--no-filesystem", "--no-config-cache", "--no-config-sync")
# given on the command line, these still work in uedge but are deprecated in edged
_DEPRECATED_SETTINGS = {
    "watchlist": "--watchlist is DEPRECATED in edged; uedge still watches only the resources listed",
    "local_strategy": "--local-strategy is DEPRECATED in edged; uedge keeps it: the local "
                      "config_io is authoritative (or set \"locked\": true in config_io)",
}


def _bool_arg(text):
    try:
        return settings_mod.parse_bool(text)
    except settings_mod.SettingsError:
        raise argparse.ArgumentTypeError("expected True or False, got %r" % text) from None


def _add_settings_options(p, suppress):
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("-i", "--ini-file", dest="ini_file", default=d, metavar="FILE",
                   help="edged INI file (read, and updated with the provisioned token)")
    groups = (
        (p, settings_mod.EDGED_FIELDS),
        (p.add_argument_group("uedge options"), settings_mod.UEDGE_FIELDS),
    )
    for g, fields in groups:
        for name, typ, default, helptext in fields:
            spec, metavar = _OPTIONS[name]
            shown_opts, _sep, alias_opts = spec.partition("|")
            shown, aliases = shown_opts.split(), alias_opts.split()
            dflt = "" if default is None else " [default: %s]" % default
            if aliases:
                dflt += " (also %s)" % ", ".join(aliases)
            if typ is bool and name not in _VALUE_BOOLS:
                g.add_argument(*shown, dest=name, action="store_const", const=True, default=d,
                               help="%s%s" % (helptext, dflt))
            else:
                kw = {"metavar": metavar, "help": helptext + dflt}
                if typ is bool:
                    kw.update(nargs="?", const=True, type=_bool_arg)
                elif name == "debug":
                    kw.update(type=str.upper, choices=LEVELS)
                elif name == "queuing_drop_strategy":
                    kw.update(choices=("oldest", "latest"))
                elif name == "queue_sync":
                    kw.update(choices=("off", "normal", "full"))
                g.add_argument(*shown, dest=name, default=d, **kw)
                if aliases:
                    kw["help"] = argparse.SUPPRESS
                    g.add_argument(*aliases, dest=name, default=d, **kw)
            if typ is bool:
                p.add_argument("--no-" + name.replace("_", "-"), dest=name, action="store_const",
                               const=False, default=d, help=argparse.SUPPRESS)
    g = p.add_argument_group("deprecated edged options (accepted, with a warning)")
    g.add_argument("--strategy", dest="strategy", nargs="?", const="local", default=d,
                   metavar="STRATEGY", help="`--strategy local` is --local-strategy")
    for flag in _DEPRECATED_FLAGS:
        g.add_argument(flag, dest="deprecated_" + flag[2:].replace("-", "_"), action="store_true",
                       default=d, help="ignored")
    p.add_argument("--edged-timeout", dest="edged_timeout", type=float, default=d, metavar="TIMEOUT",
                   help="exit after TIMEOUT seconds (same as `go --duration`)")


def build_parser():
    name = os.path.basename(sys.argv[0] or "")
    p = argparse.ArgumentParser(
        prog="edged" if name == "edged" else "uedge",
        description="uedge: edge client for ExoSense / Murano IoT Connectors (edged compatible).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    p.add_argument("-L", "--list-commands", dest="list_commands", action="store_true",
                   help="print the available commands and exit")
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


def normalize_argv(argv):
    """Fill in the value of options whose value is optional (`-q`, `--queuing`)
    when what follows is another option or a command, so that `--queuing go`
    does not read "go" as the value."""
    commands = set(c for c, _t in COMMANDS)
    out = []
    argv = list(argv)
    for i, a in enumerate(argv):
        out.append(a)
        if a in _OPTIONAL_VALUE:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("-") or nxt in commands:
                out.append(_OPTIONAL_VALUE[a])
    return out


def parse_args(argv, parser=None):
    return (parser or build_parser()).parse_args(normalize_argv(argv))


def _version():
    try:
        from importlib.metadata import version

        return version("uedge")
    except Exception:
        return "0.1.0"


def list_commands(out=None):
    out = out or sys.stdout
    for name, text in COMMANDS:
        out.write("%-10s %s\n" % (name, " ".join(text.split())))


def deprecation_warnings(args):
    """Warnings for deprecated edged options given on the command line."""
    msgs = []
    ns = vars(args)
    for flag in _DEPRECATED_FLAGS:
        if ns.get("deprecated_" + flag[2:].replace("-", "_")):
            msgs.append("%s is DEPRECATED in edged and has no effect" % flag)
    if ns.get("strategy") is not None:
        msgs.append("--strategy is DEPRECATED in edged; `--strategy local` is uedge's --local-strategy")
    for name, msg in _DEPRECATED_SETTINGS.items():
        if ns.get(name):
            msgs.append(msg)
    return msgs


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # helpers with their own command lines
    if argv and argv[0] == "connector":
        from uedge_connector.cli import main as connector_main

        return connector_main(argv[1:])
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
    args = parse_args(argv, p)
    if args.list_commands:
        list_commands()
        return 0
    if args.version or args.command == "version":
        print("uedge %s" % _version())
        return 0
    cli = {}
    for k, v in vars(args).items():
        if k in settings_mod.NAMES or k == "ini_file":
            if v is not None:
                cli[k] = v
    if getattr(args, "strategy", None) is not None and "local_strategy" not in cli:
        if str(args.strategy).strip().lower() == "local":
            cli["local_strategy"] = True
    try:
        s = settings_mod.resolve(cli)
    except settings_mod.SettingsError as e:
        print("uedge: %s" % e, file=sys.stderr)
        return 2
    s.warnings[:0] = deprecation_warnings(args)
    if args.command == "status":
        from uedge_host import status

        return status.show(s.status_file, as_json=args.json)
    if args.command == "go":
        duration = getattr(args, "duration", None)
        if duration is None:
            duration = args.edged_timeout
        return go(s, duration=duration)
    p.print_help()
    return 2


# -- the daemon -------------------------------------------------------------------

_log_handlers = []


def setup_logging(level, env=None):
    """Log to stderr, stdout or a size-rotated file (EDGED_LOG_FILENAME)."""
    dest, max_bytes, backups = settings_mod.log_settings(env)
    if dest.lower() == "stdout":
        h = logging.StreamHandler(sys.stdout)
    elif dest.lower() == "stderr":
        h = logging.StreamHandler(sys.stderr)
    else:
        d = os.path.dirname(os.path.abspath(dest))
        os.makedirs(d, exist_ok=True)
        h = logging.handlers.RotatingFileHandler(dest, maxBytes=max_bytes, backupCount=backups)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in _log_handlers:
        root.removeHandler(old)
        old.close()
    del _log_handlers[:]
    root.addHandler(h)
    _log_handlers.append(h)
    root.setLevel(getattr(logging, level, logging.INFO))
    return h


def _token_of(t):
    return t.credential


def make_transport(s, clock):
    """Pick MQTT or HTTP from murano_host; returns the transport."""
    scheme, host, port = settings_mod.parse_endpoint(s.murano_host, s.murano_port)
    cert = s.certfile if (s.certfile and s.pkeyfile) else None
    key = s.pkeyfile if cert else None
    auth = "cert" if cert else "token"
    if not s.murano_id and auth != "cert":
        raise settings_mod.SettingsError(
            "murano_id is not set (use -s/--murano-id, EDGED_MURANO_ID or the INI)"
        )
    tls = scheme in ("mqtts", "https")
    if scheme in ("mqtts", "mqtt"):
        from uedge.transport.murano_mqtt import MuranoMQTT

        t = MuranoMQTT(host, port, s.murano_id, auth=auth, ca=s.murano_cacert, cert=cert, key=key,
                       tls=tls, clock=clock, timeout_ms=int(s.request_timeout * 1000),
                       backoff_cap_ms=int(s.reconnect_max * 1000),
                       auth_backoff_ms=int(min(30.0, s.reconnect_max) * 1000),
                       log=lambda m: logging.getLogger("uedge.mqtt").info("%s", m))
    else:
        from uedge.transport.murano_http import MuranoHTTP

        t = MuranoHTTP(host, port, s.murano_id, auth=auth, ca=s.murano_cacert, cert=cert, key=key,
                       tls=tls, clock=clock, timeout_ms=int(s.request_timeout * 1000),
                       long_poll_ms=s.http_long_poll_ms, watch=s.watch,
                       backoff_cap_ms=int(s.reconnect_max * 1000),
                       auth_backoff_ms=int(min(30.0, s.reconnect_max) * 1000),
                       log=lambda m: logging.getLogger("uedge.http").info("%s", m))
    if s.murano_token:
        t.set_credentials(s.murano_token)
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
        from uedge.transport.link import AuthError, MuranoError

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
    from uedge_host.outbox_sqlite import SqliteOutbox

    if s.queuing_remove_unused_device:
        remove_unused_queues(s.queue_path)
    return SqliteOutbox(s.queue_path, cap_items=s.queue_items, cap_bytes=s.queue_bytes,
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
        from uedge.edge import Edge
        from uedge.sync.file_store import FileStore
        from uedge.pipeline.scheduler import Scheduler

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
            batch_items=s.batch_items, batch_bytes=s.batch_bytes, need_sources=need_sources,
        )
        self.ota = make_ota(s)
        self._ota_next_check = 0
        self.restart_for_ota = None
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
        t = self.transport
        if getattr(t, "busy", False):
            time.sleep(min(ms, 50) / 1000.0)  # a connect attempt owns the sockets
            return
        socks = []
        for sk in t.sockets():
            try:
                if hasattr(sk, "pending") and sk.pending():
                    return  # TLS bytes already decrypted and waiting
            except (OSError, ValueError):
                pass
            socks.append(sk)
        if t.ready_to_send():
            return  # requests queued and a connection free to take them
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
        if self.ota is not None:
            self.ota.start(self.clock.now_ms())
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
            if self.ota is not None:
                self._poll_ota(now)
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


def make_ota(s):
    if not s.ota:
        return None
    from uedge_host.ota import HostOta

    ota_log = logging.getLogger("uedge.ota")
    return HostOta(s.ota_base, name=s.ota_name, version=_version(), restart_cmd=s.ota_restart_cmd,
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

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return d.run(duration)


if __name__ == "__main__":
    sys.exit(main())
