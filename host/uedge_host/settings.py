"""edged-compatible settings: command line > EDGED_* environment > INI file > defaults.

The INI file is the one edged uses: flat `key = value` lines (no section), or
the same keys under any section ([device], [edged], ...). Keys written back
(the provisioned murano_token, and murano_id/murano_host given on the command
line) are edited in place, keeping the rest of the file as it was; the file
is kept 0600 because it holds the token.
"""

import configparser
import os

from uedge.compat import write_secret

# name, type, default, help. The INI key is the name, the environment
# variable EDGED_<NAME>, the command line option --<name with dashes>.
FIELDS = (
    ("murano_id", str, None, "device identity (serial number) in the IoT Connector"),
    ("murano_host", str, None,
     "IoT Connector endpoint: host, or URL mqtts://, https://, mqtt://, http://"),
    ("murano_port", int, None, "port (default 8883 for mqtts, 443 for https)"),
    ("murano_token", str, None, "device token; obtained by provisioning when absent"),
    ("pkey_file", str, None, "client private key (TLS client certificate auth)"),
    ("cert_file", str, None, "client certificate (TLS client certificate auth)"),
    ("ca_file", str, None, "CA bundle to verify the IoT Connector"),
    ("config_io_file", str, None,
     "local config_io: run at start, cache of remote changes (default <ini dir>/<murano_id>.config_io.json)"),
    ("config_applications_file", str, None,
     "local config_applications cache (default <ini dir>/<murano_id>.config_applications.json)"),
    ("local_strategy", bool, False,
     "the local config_io file is authoritative: pushed up, remote edits not applied"),
    ("watchlist", str, "config_io,data_out,config_applications",
     "resources to watch, comma separated"),
    ("debug", str, "INFO", "log level: CRITICAL, ERROR, WARNING, INFO, DEBUG"),
    ("http_timeout", float, 10.0, "HTTP request timeout in seconds"),
    ("queuing", bool, True, "store and forward: queue reports while the connector is unreachable"),
    ("queue_size", str, "100000",
     "queue cap: a number of reports, or a size like 64MB / 512KiB"),
    ("queue_strategy", str, "oldest", "when the queue is full drop the oldest or the latest"),
    ("queue_path", str, None, "queue database (default <ini dir>/<murano_id>.queue.db)"),
    ("queue_sync", str, "normal", "SQLite synchronous mode: off, normal (WAL), full"),
    ("replay_rate", float, 20.0, "queued batches replayed per second at most"),
    ("reconnect_max", float, 60.0, "longest wait between reconnect attempts, seconds"),
    ("status_file", str, None, "status JSON (default <ini dir>/<murano_id>.status.json)"),
)

NAMES = tuple(f[0] for f in FIELDS)
_TYPES = dict((f[0], f[1]) for f in FIELDS)
_DEFAULTS = dict((f[0], f[2]) for f in FIELDS)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class SettingsError(ValueError):
    pass


def convert(name, value, origin):
    t = _TYPES[name]
    if value is None or t is str:
        return value
    if t is bool:
        if isinstance(value, bool):
            return value
        v = str(value).strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise SettingsError("%s: %s must be true or false, got %r" % (origin, name, value))
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
    """Resolved settings; origin[name] says where each value came from."""

    def __init__(self, values, origin):
        self.values = values
        self.origin = origin

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self, hide_secrets=True):
        d = dict(self.values)
        if hide_secrets and d.get("murano_token"):
            d["murano_token"] = "(set)"
        return d


def resolve(cli=None, env=None, ini_file=None):
    """Merge: cli (dict of given options) > env (EDGED_*) > INI > defaults."""
    cli = dict((k, v) for k, v in (cli or {}).items() if v is not None)
    env = os.environ if env is None else env
    ini_file = cli.get("ini_file") or env.get("EDGED_INI_FILE") or ini_file
    ini = read_ini(ini_file)
    values = {"ini_file": ini_file}
    origin = {"ini_file": "cli" if cli.get("ini_file") else ("env" if env.get("EDGED_INI_FILE") else "default")}
    for name in NAMES:
        if name in cli:
            values[name] = convert(name, cli[name], "command line")
            origin[name] = "cli"
        elif "EDGED_" + name.upper() in env:
            values[name] = convert(name, env["EDGED_" + name.upper()], "EDGED_" + name.upper())
            origin[name] = "env"
        elif name in ini:
            values[name] = convert(name, ini[name], ini_file)
            origin[name] = "ini"
        else:
            values[name] = _DEFAULTS[name]
            origin[name] = "default"
    s = Settings(values, origin)
    _derive(s)
    return s


def _derive(s):
    v = s.values
    if v["queue_strategy"] not in ("oldest", "latest"):
        raise SettingsError("queue_strategy must be oldest or latest, got %r" % v["queue_strategy"])
    if v["queue_sync"] not in ("off", "normal", "full"):
        raise SettingsError("queue_sync must be off, normal or full, got %r" % v["queue_sync"])
    v["queue_items"], v["queue_bytes"] = parse_size(v["queue_size"])
    base = os.path.dirname(os.path.abspath(v["ini_file"])) if v.get("ini_file") else os.getcwd()
    ident = v.get("murano_id") or "uedge"
    if not v.get("queue_path"):
        v["queue_path"] = os.path.join(base, "%s.queue.db" % ident)
    if not v.get("status_file"):
        v["status_file"] = os.path.join(base, "%s.status.json" % ident)
    # without -c/-a the configuration received from the connector is still
    # cached, so a restart runs it before (or without) a connection
    if not v.get("config_io_file"):
        v["config_io_file"] = os.path.join(base, "%s.config_io.json" % ident)
    if not v.get("config_applications_file"):
        v["config_applications_file"] = os.path.join(base, "%s.config_applications.json" % ident)
    v["watch"] = tuple(w.strip() for w in (v["watchlist"] or "").split(",") if w.strip())


_UNITS = (("KIB", 1024), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1000), ("MB", 1000000),
          ("GB", 1000000000), ("K", 1024), ("M", 1 << 20), ("G", 1 << 30), ("B", 1))


def parse_size(text):
    """'100000' -> (100000 reports, 0); '64MB' -> (0, 64000000 bytes)."""
    t = str(text).strip().upper().replace(" ", "")
    for suffix, mult in _UNITS:
        if t.endswith(suffix):
            num = t[: -len(suffix)]
            try:
                return 0, int(float(num) * mult)
            except ValueError:
                break
    try:
        n = int(t)
    except ValueError:
        raise SettingsError(
            "queue_size must be a number of reports or a size like 64MB, got %r" % text
        ) from None
    if n < 1:
        raise SettingsError("queue_size must be at least 1, got %r" % text)
    return n, 0


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
