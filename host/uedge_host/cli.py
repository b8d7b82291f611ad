"""`uedge` / `edged` command line: the gateway edge daemon and its helpers.

    uedge -s <DEVICE_ID> -H <ENDPOINT> -i <DEVICE_ID>.ini go     (as edged does)
    uedge -i <DEVICE_ID>.ini status
    uedge run --config config_io.json --dry-run
    uedge connector ...                                         (local IoT Connector)
"""

import os
import sys

from uedge_host import settings as settings_mod
from uedge_host.cli_options import (  # noqa: F401  (fast_go_args re-exported)
    _DEPRECATED_FLAGS,
    _DEPRECATED_SETTINGS,
    _OPTIONAL_VALUE,
    _OPTIONS,
    _VALUE_BOOLS,
    fast_go_args,
)
from uedge_host.reexec import exec_without_site  # noqa: F401  (re-exported)

LEVELS = settings_mod.LEVELS

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

def _bool_arg(text):
    import argparse

    try:
        return settings_mod.parse_bool(text)
    except settings_mod.SettingsError:
        raise argparse.ArgumentTypeError("expected True or False, got %r" % text) from None


def _add_settings_options(p, suppress):
    import argparse

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
    import argparse

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


def list_commands(out=None):
    out = out or sys.stdout
    for name, text in COMMANDS:
        out.write("%-10s %s\n" % (name, " ".join(text.split())))


def deprecation_warnings(args):
    """Warnings for deprecated edged options given on the command line."""
    msgs = []
    ns = args if isinstance(args, dict) else vars(args)
    for flag in _DEPRECATED_FLAGS:
        if ns.get("deprecated_" + flag[2:].replace("-", "_")):
            msgs.append("%s is DEPRECATED in edged and has no effect" % flag)
    if ns.get("strategy") is not None:
        msgs.append("--strategy is DEPRECATED in edged; `--strategy local` is uedge's --local-strategy")
    for name, msg in _DEPRECATED_SETTINGS.items():
        if ns.get(name):
            msgs.append(msg)
    return msgs


# -- `go` without argparse ----------------------------------------------------------
# The daemon's command line is read by a small exact parser: argparse, with its
# gettext, locale and shutil, and three parsers of ~60 options each, is about
# 1 MB of a daemon's peak memory. It accepts only what it can read exactly as
# argparse does (the option strings as declared, `--long=value`); anything
# else (abbreviations, -sVALUE, --help, a bad value, an unknown option) goes
# to argparse, which gives the same result or its usual error.

def main(argv=None):
    entry = argv is None  # the program itself, not a caller in the same process
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
    ns = fast_go_args(normalize_argv(argv)) if "go" in argv else None
    if ns is not None and entry:
        exec_without_site(argv)
    if ns is None:
        p = build_parser()
        args = parse_args(argv, p)
        if args.list_commands:
            list_commands()
            return 0
        if args.version or args.command == "version":
            from uedge_host.daemon import package_version

            print("uedge %s" % package_version())
            return 0
        ns = vars(args)
    cli = {}
    for k, v in ns.items():
        if k in settings_mod.NAMES or k == "ini_file":
            if v is not None:
                cli[k] = v
    if ns.get("strategy") is not None and "local_strategy" not in cli:
        if str(ns["strategy"]).strip().lower() == "local":
            cli["local_strategy"] = True
    try:
        s = settings_mod.resolve(cli)
    except settings_mod.SettingsError as e:
        print("uedge: %s" % e, file=sys.stderr)
        return 2
    s.warnings[:0] = deprecation_warnings(ns)
    if ns.get("command") == "status":
        from uedge_host import status

        return status.show(s.status_file, as_json=ns.get("json"))
    if ns.get("command") == "go":
        from uedge_host.daemon import go

        duration = ns.get("duration")
        if duration is None:
            duration = ns.get("edged_timeout")
        return go(s, duration=duration)
    build_parser().print_help()
    return 2


# -- the daemon -------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main())
