"""The option table of the gateway's settings (names, types, defaults, help,
aliases) and the parsers of their values (booleans, sizes, timeouts, the
endpoint URL). uedge_host.settings merges them (command line > environment >
INI > defaults) and re-exports everything here.
"""

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
    ("murano_password", str, None,
     "device password for password auth (MQTT; at least 20 characters; better in the INI or "
     "EDGED_MURANO_PASSWORD than on the command line; generated and kept in the INI when absent)"),
    ("murano_auth", str, None,
     "token, password or cert (default: cert with --certfile/--pkeyfile, password with a "
     "password, else token)"),
    ("local_strategy", bool, False,
     "the local config_io file is authoritative: pushed up, remote edits not applied"),
    ("request_timeout", float, 10.0, "seconds for a connection attempt or an HTTP request"),
    ("queue_size", str, None,
     "extra queue cap: a number of reports, or a size like 64MB (replaces queuing_db_max_size)"),
    ("queue_sync", str, "normal", "SQLite synchronous mode: off, normal (WAL), full"),
    ("replay_rate", float, None,
     "queued payloads replayed per second at most (overrides queuing_record_rate)"),
    ("reconnect_max", float, 60.0, "longest wait between reconnect attempts, seconds"),
    ("live_batch_ms", int, 100,
     "MQTT: a live report whose next one is due within this many ms waits for it, and both go "
     "in one $resource.batch message (each with its own timestamp); 0: every report alone"),
    ("status_file", str, None, "status JSON (default <ini dir>/<murano_id>.status.json)"),
    ("status_interval", float, 2.0, "seconds between two writes of the status file"),
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
