"""edged-compatible settings: command line > EDGED_* environment > INI file > defaults.

The names are edged's (its option table): the INI key is the name, the
environment variable EDGED_<NAME>. Older uedge key names (pkey_file,
cert_file, ca_file, queue_strategy, queue_path) are still read as aliases of
the edged ones, and uedge's own settings (queue_size, replay_rate,
request_timeout, ota, ...) sit next to them.

The INI file is the one edged uses: flat `key = value` lines (no section), or
the same keys under any section ([device], [edged], ...). Keys written back
(the provisioned murano_token, and murano_id/murano_host given on the command
line) are edited in place, keeping the rest of the file as it was; the file
is kept 0600 because it holds the token.
"""

import configparser
import os

from uedge.compat import write_secret

LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")

# name, type, default, help. The INI key is the name, the environment
# variable EDGED_<NAME>. Types: str, int, float, bool, "bytes" (a number of
# bytes or a size such as 64MB), "ms" (milliseconds, see parse_http_timeout).
EDGED_FIELDS = (
    ("murano_id", str, None, "device identity (serial number) in the IoT Connector"),
    ("murano_host", str, None,
     "IoT Connector endpoint: host, or URL mqtts://, https://, mqtt://, http://"),
    ("murano_port", int, None, "port (default 8883 for mqtts, 443 for https)"),
    ("murano_token", str, None, "device token; obtained by provisioning when absent"),
    ("pkeyfile", str, None, "client private key (TLS client certificate auth, with --certfile)"),
    ("certfile", str, None, "client certificate (TLS client certificate auth)"),
    ("murano_cacert", str, None, "CA bundle to verify the IoT Connector (default: system CAs)"),
    ("config_io_file", str, None,
     "local config_io: run at start, cache of remote changes (default <ini dir>/<murano_id>.config_io.json)"),
    ("config_applications_file", str, None,
     "local config_applications cache (default <ini dir>/<murano_id>.config_applications.json)"),
    ("watchlist", str, "config_io,data_out,config_applications",
     "resources to watch, comma separated"),
    ("debug", str, "INFO", "log level: DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("http_timeout", "ms", 300000,
     "HTTP long-poll timeout in milliseconds (a value below 1000 is read as uedge's former "
     "request timeout in seconds)"),
    ("queuing", bool, True, "store and forward: queue reports while the connector is unreachable"),
    ("queuing_batch_amount", int, 0,
     "reports per replayed payload; 0 sizes each payload to stay within 64 KB"),
    ("queuing_db_max_size", "bytes", 20000000, "queue cap in bytes of queued data (0: no cap)"),
    ("queuing_db_path", str, None,
     "queue database file, or a directory for <murano_id>.queue.db (default <ini dir>/<murano_id>.queue.db)"),
    ("queuing_drop_strategy", str, "oldest", "when the queue is full drop the oldest or the latest"),
    ("queuing_record_rate", float, 1.0, "seconds between two replayed payloads (0: no pause)"),
    ("queuing_remove_unused_device", bool, False,
     "at start remove the queues of devices other than murano_id kept next to this one"),
)

UEDGE_FIELDS = (
    ("local_strategy", bool, False,
     "the local config_io file is authoritative: pushed up, remote edits not applied"),
    ("request_timeout", float, 10.0, "seconds for a connection attempt or an HTTP request"),
    ("queue_size", str, None,
     "extra queue cap: a number of reports, or a size like 64MB (replaces queuing_db_max_size)"),
    ("queue_sync", str, "normal", "SQLite synchronous mode: off, normal (WAL), full"),
    ("replay_rate", float, None,
     "queued payloads replayed per second at most (overrides queuing_record_rate)"),
    ("reconnect_max", float, 60.0, "longest wait between reconnect attempts, seconds"),
    ("status_file", str, None, "status JSON (default <ini dir>/<murano_id>.status.json)"),
    ("ota", bool, False, "gateway OTA: install application bundles offered by the connector"),
    ("ota_base", str, "/opt/uedge", "OTA directory (versions/, current, ota.json)"),
    ("ota_name", str, "uedge-gateway", "bundle name to look for in the connector's content"),
    ("ota_restart_cmd", str, None,
     "command that restarts the service after an install or rollback (default: the daemon exits "
     "and the service manager starts it again)"),
    ("ota_check_interval", float, 3600.0, "seconds between two checks for a new bundle"),
    ("ota_confirm_timeout", float, 300.0,
     "seconds a new version has to reach the connector before it is rolled back"),
)

FIELDS = EDGED_FIELDS + UEDGE_FIELDS
EDGED_NAMES = tuple(f[0] for f in EDGED_FIELDS)
NAMES = tuple(f[0] for f in FIELDS)
_TYPES = dict((f[0], f[1]) for f in FIELDS)
_DEFAULTS = dict((f[0], f[2]) for f in FIELDS)

# older uedge names (INI keys, EDGED_* variables, Settings attributes) -> edged names
ALIASES = {
    "pkey_file": "pkeyfile",
    "cert_file": "certfile",
    "ca_file": "murano_cacert",
    "queue_strategy": "queuing_drop_strategy",
}
# queue_path is both: an alias of queuing_db_path when read, and the resolved
# database file in Settings
_READ_ALIASES = dict(ALIASES, queue_path="queuing_db_path")
_ALIASES_OF = {}
for _old, _new in sorted(_READ_ALIASES.items()):
    _ALIASES_OF.setdefault(_new, []).append(_old)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

AUTO_BATCH_ITEMS = 10000
# data_in bytes per auto-sized payload: timestamps and JSON escaping of the
# data_in strings come on top, and the whole message stays within 64 KB
AUTO_BATCH_BYTES = 48 * 1024
FIXED_BATCH_BYTES = 256 * 1024


class SettingsError(ValueError):
    pass


def parse_bool(value, what="value"):
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise SettingsError("%s must be true or false, got %r" % (what, value))


def convert(name, value, origin):
    t = _TYPES[name]
    if value is None or t is str:
        return value
    if t is bool:
        return parse_bool(value, "%s: %s" % (origin, name))
    if t == "bytes":
        try:
            return parse_bytes(value)
        except SettingsError:
            raise SettingsError("%s: %s must be a number of bytes or a size like 20MB, got %r"
                                % (origin, name, value)) from None
    if t == "ms":
        return str(value).strip()
    try:
        return t(value)
    except (TypeError, ValueError):
        raise SettingsError(
            "%s: %s must be %s, got %r" % (origin, name, "a number" if t is float else "an integer", value)
        ) from None


def read_ini(path):
    """Keys of an edged INI file (flat or sectioned); {} when it does not exist."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        text = f.read()
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cp.read_string(text if _has_section(text) else "[edged]\n" + text)
    except configparser.Error as e:
        raise SettingsError("%s: %s" % (path, str(e).splitlines()[0])) from None
    out = {}
    for section in cp.sections():
        for key, value in cp.items(section):
            out.setdefault(key, value.strip())
    return out


def _has_section(text):
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        return s.startswith("[")
    return False


def update_ini(path, values):
    """Set keys in an edged INI file in place (created if missing), mode 0600."""
    lines = []
    if os.path.exists(path):
        with open(path) as f:
            lines = f.read().splitlines()
    todo = dict(values)
    first_section_end = None
    seen_section = False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("["):
            if seen_section and first_section_end is None:
                first_section_end = i
            seen_section = True
            continue
        if not s or s[0] in "#;" or ("=" not in s and ":" not in s):
            continue
        sep = s.index("=") if "=" in s else s.index(":")
        key = s[:sep].strip().lower()
        if key in todo:
            lines[i] = "%s = %s" % (key, todo.pop(key))
    new = ["%s = %s" % (k, v) for k, v in todo.items()]
    if first_section_end is not None:
        # keep new keys inside the first section
        while first_section_end > 0 and not lines[first_section_end - 1].strip():
            first_section_end -= 1
        lines[first_section_end:first_section_end] = new
    else:
        lines.extend(new)
    write_secret(path, "\n".join(lines) + "\n")
    os.chmod(path, 0o600)


class Settings:
    """Resolved settings; origin[name] says where each value came from
    ("cli", "env", "ini" or "default"); warnings lists what the daemon should
    log at start (deprecated or reinterpreted settings)."""

    def __init__(self, values, origin, warnings=None):
        self.values = values
        self.origin = origin
        self.warnings = warnings if warnings is not None else []

    def __getattr__(self, name):
        values = self.__dict__["values"]
        try:
            return values[name]
        except KeyError:
            pass
        if name in ALIASES:
            return values[ALIASES[name]]
        raise AttributeError(name)

    def as_dict(self, hide_secrets=True):
        d = dict(self.values)
        if hide_secrets and d.get("murano_token"):
            d["murano_token"] = "(set)"
        return d


def _lookup(name, cli, env, ini, ini_file):
    """(value, origin label, origin kind) of one setting, or None when unset."""
    if name in cli:
        return cli[name], "command line", "cli"
    keys = [name] + _ALIASES_OF.get(name, [])
    for key in keys:
        var = "EDGED_" + key.upper()
        if var in env:
            return env[var], var, "env"
    for key in keys:
        if key in ini:
            return ini[key], "%s: %s" % (ini_file, key) if key != name else ini_file, "ini"
    return None


def resolve(cli=None, env=None, ini_file=None):
    """Merge: cli (dict of given options) > env (EDGED_*) > INI > defaults."""
    given = {}
    for k, v in (cli or {}).items():
        if v is not None:
            given[_READ_ALIASES.get(k, k)] = v
    cli = given
    env = os.environ if env is None else env
    ini_file = cli.get("ini_file") or env.get("EDGED_INI_FILE") or ini_file
    ini = read_ini(ini_file)
    values = {"ini_file": ini_file}
    origin = {"ini_file": "cli" if cli.get("ini_file") else ("env" if env.get("EDGED_INI_FILE") else "default")}
    for name in NAMES:
        found = _lookup(name, cli, env, ini, ini_file)
        if found is None:
            values[name] = _DEFAULTS[name]
            origin[name] = "default"
        else:
            values[name] = convert(name, found[0], found[1])
            origin[name] = found[2]
    if origin["debug"] == "default" and env.get("EDGED_LOG_DEBUG"):
        values["debug"] = env["EDGED_LOG_DEBUG"]
        origin["debug"] = "env"
    for old, new in ALIASES.items():
        origin[old] = origin[new]
    s = Settings(values, origin)
    _derive(s)
    return s


def _derive(s):
    v = s.values
    level = str(v["debug"]).strip().upper()
    if level not in LEVELS:
        raise SettingsError("debug must be one of %s, got %r" % (", ".join(LEVELS), v["debug"]))
    v["debug"] = level
    if v["queuing_drop_strategy"] not in ("oldest", "latest"):
        raise SettingsError("queuing_drop_strategy must be oldest or latest, got %r"
                            % v["queuing_drop_strategy"])
    if v["queue_sync"] not in ("off", "normal", "full"):
        raise SettingsError("queue_sync must be off, normal or full, got %r" % v["queue_sync"])

    # queue caps: queuing_db_max_size bytes, or uedge's queue_size (reports or a size)
    if v["queuing_db_max_size"] < 0:
        raise SettingsError("queuing_db_max_size must be 0 (no cap) or more, got %r"
                            % v["queuing_db_max_size"])
    items, nbytes = 0, v["queuing_db_max_size"]
    if v["queue_size"] is not None:
        items, size = parse_size(v["queue_size"])
        if size:
            nbytes = size
    v["queue_items"], v["queue_bytes"] = items, nbytes

    # replayed payloads: how many reports each, how often
    amount = v["queuing_batch_amount"]
    if amount < 0:
        raise SettingsError("queuing_batch_amount must be 0 (auto) or more, got %r" % amount)
    if amount:
        v["batch_items"], v["batch_bytes"] = amount, FIXED_BATCH_BYTES
    else:
        v["batch_items"], v["batch_bytes"] = AUTO_BATCH_ITEMS, AUTO_BATCH_BYTES
    if v["replay_rate"] is not None:
        if v["replay_rate"] < 0:
            raise SettingsError("replay_rate must be 0 (no limit) or more, got %r" % v["replay_rate"])
    else:
        r = v["queuing_record_rate"]
        if r < 0:
            raise SettingsError("queuing_record_rate must be 0 or more seconds, got %r" % r)
        v["replay_rate"] = 1.0 / r if r > 0 else 0.0

    # http_timeout: edged's long-poll timeout (ms); small bare numbers are uedge's
    # former meaning (request timeout in seconds)
    long_poll_ms, legacy_s = parse_http_timeout(v["http_timeout"])
    if legacy_s is not None:
        long_poll_ms = _DEFAULTS["http_timeout"]
        if s.origin.get("request_timeout") == "default":
            v["request_timeout"] = legacy_s
        s.warnings.append(
            "http_timeout %s is read as the request timeout in seconds (uedge's former meaning); "
            "edged's http_timeout is the HTTP long-poll timeout in milliseconds: use "
            "request_timeout for the former, http_timeout >= 1000 (or 30s) for the latter"
            % v["http_timeout"])
    v["http_long_poll_ms"] = long_poll_ms
    if v["request_timeout"] <= 0:
        raise SettingsError("request_timeout must be more than 0 seconds, got %r" % v["request_timeout"])
    if v["ota_check_interval"] <= 0 or v["ota_confirm_timeout"] <= 0:
        raise SettingsError("ota_check_interval and ota_confirm_timeout must be more than 0 seconds")

    base = os.path.dirname(os.path.abspath(v["ini_file"])) if v.get("ini_file") else os.getcwd()
    ident = v.get("murano_id") or "uedge"
    qp = v.get("queuing_db_path")
    if not qp:
        qp = os.path.join(base, "%s.queue.db" % ident)
    elif os.path.isdir(qp) or qp.endswith(("/", os.sep)):
        qp = os.path.join(qp, "%s.queue.db" % ident)
    v["queue_path"] = qp
    if not v.get("status_file"):
        v["status_file"] = os.path.join(base, "%s.status.json" % ident)
    # without -c/-a the configuration received from the connector is still
    # cached, so a restart runs it before (or without) a connection
    if not v.get("config_io_file"):
        v["config_io_file"] = os.path.join(base, "%s.config_io.json" % ident)
    if not v.get("config_applications_file"):
        v["config_applications_file"] = os.path.join(base, "%s.config_applications.json" % ident)
    v["watch"] = tuple(w.strip() for w in (v["watchlist"] or "").split(",") if w.strip())


def log_settings(env=None):
    """edged's logging variables: (destination, max_bytes, backups).

    EDGED_LOG_FILENAME is stdout, stderr or a file path (rotated by size:
    EDGED_LOG_MAX_BYTES per file, EDGED_LOG_MAX_BACKUPS old files kept).
    EDGED_LOG_DEBUG (the default level) is applied by resolve().
    """
    env = os.environ if env is None else env
    dest = (env.get("EDGED_LOG_FILENAME") or "stderr").strip()
    out = []
    for var, default in (("EDGED_LOG_MAX_BYTES", "1024000"), ("EDGED_LOG_MAX_BACKUPS", "3")):
        raw = env.get(var) or default
        try:
            n = int(raw)
        except ValueError:
            raise SettingsError("%s must be an integer, got %r" % (var, raw)) from None
        if n < 0:
            raise SettingsError("%s must be 0 or more, got %r" % (var, raw))
        out.append(n)
    return dest, out[0], out[1]


_UNITS = (("KIB", 1024), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1000), ("MB", 1000000),
          ("GB", 1000000000), ("K", 1024), ("M", 1 << 20), ("G", 1 << 30), ("B", 1))


def _size_bytes(t):
    for suffix, mult in _UNITS:
        if t.endswith(suffix):
            try:
                return int(float(t[: -len(suffix)]) * mult)
            except ValueError:
                return None
    return None


def parse_size(text):
    """uedge's queue_size: '100000' -> (100000 reports, 0); '64MB' -> (0, 64000000 bytes)."""
    t = str(text).strip().upper().replace(" ", "")
    b = _size_bytes(t)
    if b is not None:
        return 0, b
    try:
        n = int(t)
    except ValueError:
        raise SettingsError(
            "queue_size must be a number of reports or a size like 64MB, got %r" % text
        ) from None
    if n < 1:
        raise SettingsError("queue_size must be at least 1, got %r" % text)
    return n, 0


def parse_bytes(text):
    """A byte count: '20000000' -> 20000000, '64MB' -> 64000000, '512KiB' -> 524288."""
    if isinstance(text, int):
        return text
    t = str(text).strip().upper().replace(" ", "")
    b = _size_bytes(t)
    if b is None:
        try:
            b = int(t)
        except ValueError:
            raise SettingsError("not a size: %r" % text) from None
    return b


def parse_http_timeout(value):
    """-> (milliseconds, None), or (None, seconds) for a bare number below 1000.

    '300000' and '300000ms' are milliseconds (edged), '30s' seconds, '5m'
    minutes. A bare number below 1000 is uedge's former request timeout in
    seconds (no real long poll is that short).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value), None
    t = str(value).strip().lower().replace(" ", "")
    mult = None
    for suffix, m in (("ms", 1), ("min", 60000), ("s", 1000), ("m", 60000)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        n = float(t)
    except ValueError:
        raise SettingsError("http_timeout must be milliseconds (300000), or 30s / 5m, got %r"
                            % value) from None
    if n <= 0:
        raise SettingsError("http_timeout must be more than 0, got %r" % value)
    if mult is None:
        if n < 1000:
            return None, n
        mult = 1
    return int(n * mult), None


def parse_endpoint(host, port=None):
    """Transport selection from murano_host: (scheme, hostname, port).

    mqtts:// and https:// use TLS; mqtt:// and http:// are plain (local tests).
    A bare host (edged style) means HTTPS, edged's default protocol.
    """
    if not host:
        raise SettingsError("murano_host is not set (use -H/--murano-host, EDGED_MURANO_HOST or the INI)")
    h = host.strip()
    scheme = "https"
    if "://" in h:
        scheme, h = h.split("://", 1)
        scheme = scheme.lower()
    if scheme not in ("mqtts", "mqtt", "https", "http"):
        raise SettingsError("murano_host scheme must be mqtts, https, mqtt or http, got %r" % scheme)
    h = h.rstrip("/")
    if "/" in h:
        raise SettingsError("murano_host must not contain a path, got %r" % host)
    hp = None
    if h.startswith("["):  # [ipv6]:port
        end = h.index("]")
        if h[end + 1:end + 2] == ":":
            hp = h[end + 2:]
        h = h[1:end]
    elif h.count(":") == 1:
        h, hp = h.split(":")
    if port is None and hp:
        try:
            port = int(hp)
        except ValueError:
            raise SettingsError("murano_host port must be a number, got %r" % hp) from None
    if port is None:
        port = {"mqtts": 8883, "mqtt": 1883, "https": 443, "http": 80}[scheme]
    return scheme, h, int(port)
