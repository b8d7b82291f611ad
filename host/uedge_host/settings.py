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

import os

from uedge.secret import write_secret
from uedge_host.settings_fields import (  # noqa: F401  (re-exported)
    ALIASES,
    AUTO_BATCH_BYTES,
    AUTO_BATCH_ITEMS,
    EDGED_FIELDS,
    EDGED_NAMES,
    FIELDS,
    FIXED_BATCH_BYTES,
    LEVELS,
    NAMES,
    UEDGE_FIELDS,
    SettingsError,
    _ALIASES_OF,
    _DEFAULTS,
    _READ_ALIASES,
    _TYPES,
    parse_bool,
    parse_bytes,
    parse_endpoint,
    parse_http_timeout,
    parse_size,
)

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
    out = _read_plain_ini(text)
    if out is not None:
        return out
    import configparser  # continuation lines, [DEFAULT], ...: configparser reads them

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


def _read_plain_ini(text):
    """An INI file of `key = value` (or `key: value`) lines, comments and
    [section] headers, read as configparser (interpolation=None, strict=False)
    reads it: keys lower-cased, the first section holding a key wins, within
    a section the last line does. None for anything else (indented or
    continuation lines, [DEFAULT], a line without = or :), which configparser
    then reads, or refuses with its own message: configparser is ~0.25 MB of
    the daemon's memory for the few lines an edged INI has."""
    out = {}
    section = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if line[0] in " \t":
            return None
        if s[0] == "[":
            j = s.rfind("]")
            if j < 2 or s[1:j] == "DEFAULT":
                return None
            section = {}
            if s[1:j] in out:
                section = out[s[1:j]]
            out[s[1:j]] = section
            continue
        i = s.find("=")
        k = s.find(":")
        if i < 0 or (0 <= k < i):
            i = k
        if i < 0:
            return None
        key = s[:i].strip().lower()
        if not key:
            return None
        if section is None:
            section = out["edged"] = {}
        section[key] = s[i + 1:].strip()
    keys = {}
    for sec in out.values():
        for key, value in sec.items():
            keys.setdefault(key, value)
    return keys


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
        for k in ("murano_token", "murano_password"):
            if hide_secrets and d.get(k):
                d[k] = "(set)"
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


AUTH_TYPES = ("token", "password", "cert")


def _derive_auth(s):
    """-> the auth type; -C without -K (or -K without -C) is an error naming
    the missing option, never a silent fallback to token auth."""
    v = s.values
    cert, key = v["certfile"], v["pkeyfile"]
    if bool(cert) != bool(key):
        given, missing = (("-C/--certfile (certfile)", "-K/--pkeyfile (pkeyfile)") if cert
                          else ("-K/--pkeyfile (pkeyfile)", "-C/--certfile (certfile)"))
        raise SettingsError("%s is set but %s is missing: TLS client certificate auth needs both"
                            % (given, missing))
    auth = (v["murano_auth"] or "").strip().lower()
    if not auth:
        auth = "cert" if cert else ("password" if v["murano_password"] else "token")
    if auth not in AUTH_TYPES:
        raise SettingsError("murano_auth must be token, password or cert, got %r" % v["murano_auth"])
    if auth == "cert" and not cert:
        raise SettingsError("murano_auth cert needs -C/--certfile and -K/--pkeyfile")
    if auth != "cert" and cert:
        raise SettingsError("murano_auth %s conflicts with -C/-K (certificate auth)" % auth)
    pw = v["murano_password"]
    if pw is not None and auth == "password" and len(pw) < 20:
        raise SettingsError("murano_password must be at least 20 characters (Murano password auth), "
                            "got %d" % len(pw))
    return auth


def _derive(s):
    v = s.values
    v["auth"] = _derive_auth(s)
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
    if v["status_interval"] <= 0:
        raise SettingsError("status_interval must be more than 0 seconds, got %r" % v["status_interval"])
    if v["live_batch_ms"] < 0:
        raise SettingsError("live_batch_ms must be 0 (off) or more milliseconds, got %r" % v["live_batch_ms"])
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


