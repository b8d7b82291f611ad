"""The `uedge` command line's options (argparse is built from them in
uedge_host.cli) and the exact reader of a `go` command line that spares the
daemon argparse (fast_go_args)."""

from uedge_host import settings as settings_mod

LEVELS = settings_mod.LEVELS

# Command line options of each setting: the first ones are shown in --help
# (edged's spelling), the aliases after "|" are accepted but not listed there.
_OPTIONS = {
    "murano_id": ("-s --murano-id | --serial-number", "SN"),
    "murano_host": ("-H --murano-host | --host", "HOST"),
    "murano_port": ("-p --murano-port | --port", "PORT"),
    "murano_token": ("-t --murano-token | --token", "TOKEN"),
    "pkeyfile": ("-K --pkeyfile | --pkey-file --murano-pkey-file", "PKEY"),
    "certfile": ("-C --certfile | --cert-file --murano-cert-file", "CERT"),
    "murano_password": ("--murano-password | --password", "PASSWORD"),
    "murano_auth": ("--murano-auth | --auth", "{token,password,cert}"),
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
    "live_batch_ms": ("--live-batch-ms", "MS"),
    "status_file": ("--status-file", "FILE"),
    "status_interval": ("--status-interval", "SECONDS"),
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


_FAST = {}


def _fast_table():
    if _FAST:
        return _FAST
    t = {"-i": ("ini_file", "str"), "--ini-file": ("ini_file", "str")}
    for name, typ, _default, _help in settings_mod.EDGED_FIELDS + settings_mod.UEDGE_FIELDS:
        spec, _metavar = _OPTIONS[name]
        if typ is bool and name not in _VALUE_BOOLS:
            kind = "flag"
        elif typ is bool:
            kind = "bool"
        elif name == "debug":
            kind = "level"
        elif name == "queuing_drop_strategy":
            kind = ("oldest", "latest")
        elif name == "queue_sync":
            kind = ("off", "normal", "full")
        else:
            kind = "str"
        for opt in spec.replace("|", " ").split():
            t[opt] = (name, kind)
        if typ is bool:
            t["--no-" + name.replace("_", "-")] = (name, "off")
    t["--strategy"] = ("strategy", "str")
    for flag in _DEPRECATED_FLAGS:
        t[flag] = ("deprecated_" + flag[2:].replace("-", "_"), "flag")
    t["--edged-timeout"] = ("edged_timeout", "float")
    _FAST.update(t)
    return _FAST


def fast_go_args(argv):
    """{dest: value} of a `go` command line (after normalize_argv), as argparse
    would set them (options given only, "command": "go"), or None when argparse
    has to read it."""
    table = _fast_table()
    out = {}
    seen_go = False
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "go" and not seen_go:
            seen_go = True
            continue
        if not a.startswith("-") or a == "--" or a == "-":
            return None
        inline = None
        if a.startswith("--") and "=" in a:
            a, inline = a.split("=", 1)
        if a == "--duration" and seen_go:
            dest, kind = "duration", "float"
        else:
            spec = table.get(a)
            if spec is None:
                return None
            dest, kind = spec
        if kind in ("flag", "off"):
            if inline is not None:
                return None
            out[dest] = kind == "flag"
            continue
        if inline is None:
            if i >= n or argv[i].startswith("-"):
                return None
            inline = argv[i]
            i += 1
        v = inline
        try:
            if kind == "bool":
                v = settings_mod.parse_bool(v)
            elif kind == "float":
                v = float(v)
            elif kind == "level":
                v = v.upper()
                if v not in LEVELS:
                    return None
            elif kind != "str" and v not in kind:
                return None
        except (settings_mod.SettingsError, ValueError):
            return None
        out[dest] = v
    if not seen_go:
        return None
    out["command"] = "go"
    return out
