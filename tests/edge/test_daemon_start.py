"""How `uedge go` starts: its command line read without argparse exactly as
argparse reads it, and the daemon run by an interpreter without site (-S)
that adds the site directories when a fieldbus driver is needed."""

import json
import os
import sys

import pytest
from hypothesis import given
from hypothesis import settings as settings_h
from hypothesis import strategies as st

from edge_helpers import Uedge, wait_for
from uedge_connector.testing import running_connector
from uedge_host import cli, settings


def argparse_view(argv):
    """What main() takes from argparse's namespace: the options given, the command."""
    ns = vars(cli.parse_args(argv))
    return {k: v for k, v in ns.items()
            if v is not None and k not in ("version", "list_commands")}


GO_LINES = [
    ["go"],
    ["-s", "0001", "-H", "mqtts://h.example.com", "-i", "x.ini", "-c", "c.json", "-E", "ca.pem",
     "-d", "WARNING", "go"],
    ["go", "-s", "0001", "--murano-host", "https://h", "--duration", "2.5"],
    ["--murano-id=a", "--debug=info", "go", "--murano-id", "b"],  # the later one wins
    ["-s", "go", "go"],  # a value that reads like the command
    ["-q", "False", "go"], ["-q", "go"], ["go", "--queuing"], ["--queuing=no", "go"],
    ["--no-queuing", "go"], ["--queuing", "-s", "x", "go"],
    ["--queuing-remove-unused-device", "go"], ["--no-queuing-remove-unused-device", "go"],
    ["-l", "--ota", "--ota-base", "/opt/uedge", "go"], ["--local-strategy", "go"],
    ["--strategy", "local", "go"], ["--strategy", "go"], ["--strategy=remote", "go"],
    ["--no-filesystem", "--no-config-sync", "go"], ["--edged-timeout", "7", "go"],
    ["--serial-number", "9", "--host", "h", "--port", "1", "--token", "t", "--pkey-file", "k",
     "--cert-file", "c", "--ca-file", "ca", "--queue-strategy", "latest", "--queue-path", "q.db",
     "--queue-size", "10", "--replay-rate", "5", "--reconnect-max", "1", "go"],
    ["--murano-pkey-file", "k", "--murano-cert-file", "c", "--murano-ca-file", "ca", "go"],
    ["-p", "443", "-t", "tok", "-a", "a.json", "-K", "k.pem", "-C", "c.pem", "-d", "debug",
     "--queuing-batch-amount", "25", "--queuing-db-max-size", "1000000",
     "--queuing-db-path", "/tmp/q", "--queuing-drop-strategy", "oldest",
     "--queuing-record-rate", "0.5", "--http-timeout", "60000", "-W", "config_io,data_out",
     "--murano-password", "p" * 24, "--murano-auth", "password", "--request-timeout", "3",
     "--queue-sync", "full", "--status-file", "s.json", "--ota-name", "n",
     "--ota-restart-cmd", "true", "--ota-check-interval", "60", "--ota-confirm-timeout", "30", "go"],
    ["-s", "", "go"],
]


@pytest.mark.parametrize("argv", GO_LINES)
def test_go_command_lines_read_as_argparse_reads_them(argv):
    fast = cli.fast_go_args(cli.normalize_argv(argv))
    assert fast is not None, argv
    assert fast == argparse_view(argv)


@pytest.mark.parametrize("argv", [
    ["--murano-i", "x", "go"],  # an abbreviation
    ["-sX", "go"],  # a value glued to a short option
    ["-h", "go"], ["go", "--help"], ["-v", "go"],
    ["-d", "LOUD", "go"], ["-q", "maybe", "go"], ["--queuing-drop-strategy", "newest", "go"],
    ["--edged-timeout", "soon", "go"], ["--duration", "1", "go"],  # --duration belongs to go
    ["-s", "go"],  # no command left
    ["go", "go"], ["go", "extra"], ["-s", "-x", "go"], ["--ota=yes", "go"], ["--", "go"],
    ["status"], ["-s", "x"],
])
def test_anything_else_is_left_to_argparse(argv):
    assert cli.fast_go_args(cli.normalize_argv(argv)) is None


def test_main_refuses_what_argparse_refuses(capsys):
    with pytest.raises(SystemExit):
        cli.main(["-d", "LOUD", "go"])
    assert "invalid choice" in capsys.readouterr().err


def _cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")


@pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs /proc")
def test_daemon_runs_without_site_and_adds_it_for_fieldbus_drivers(tmp_path):
    pytest.importorskip("pymodbus")
    cfg = {"last_edited": "2026-01-01T00:00:00Z", "channels": {
        "001": {"display_name": "Counter", "properties": {"data_type": "NUMBER"},
                "protocol_config": {"application": "Simulated", "sample_rate": 500, "report_rate": 500,
                                    "app_specific_config": {"function": "counter"}}},
        "002": {"display_name": "Holding register", "properties": {"data_type": "NUMBER"},
                "protocol_config": {"application": "Modbus_TCP", "interface": "lo",
                                    "sample_rate": 500, "report_rate": 500,
                                    "app_specific_config": {"ip_address": "127.0.0.1", "port": 1,
                                                            "register_range": "HOLDING_REGISTER",
                                                            "register": 1}}},
    }}
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "start-1", cfg, scheme="mqtts").start()
        try:
            wait_for(lambda: any("001" in v for _ts, v in u.data_in()), what="data_in of 001")
            args = _cmdline(u.proc.pid)
            assert b"-S" in args[1:3], args
            wait_for(lambda: "fieldbus sources loaded" in u.log_text(), what="fieldbus sources")
            assert "Modbus_TCP" in u.log_text().split("fieldbus sources loaded", 1)[1].splitlines()[0]
            # the Modbus channel runs (its device is not there: an error naming it, not a crash)
            wait_for(lambda: any("__error" in v and "002" in json.dumps(v["__error"])
                                 for _ts, v in u.data_in()), what="an __error for 002")
        finally:
            u.stop()
        assert u.status()["reason"] == "stopped"


def test_uedge_site_keeps_the_usual_start(tmp_path, monkeypatch):
    monkeypatch.setenv("UEDGE_SITE", "1")
    calls = []
    monkeypatch.setattr(os, "execv", lambda *a: calls.append(a))
    cli.exec_without_site(["go"])
    assert calls == []
    monkeypatch.delenv("UEDGE_SITE")
    cli.exec_without_site(["-s", "x", "go"])
    if not sys.flags.no_site:
        exe, args = calls[0]
        assert exe == sys.executable and args[1] == "-S" and args[-3:] == ["-s", "x", "go"]


def _configparser_view(text):
    import configparser

    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(text if settings._has_section(text) else "[edged]\n" + text)
    out = {}
    for section in cp.sections():
        for key, value in cp.items(section):
            out.setdefault(key, value.strip())
    return out


INI_TEXTS = [
    "murano_id = gw1\nmurano_host = https://h.example.com\n",
    "# comment\n; other\n\nMurano_ID: gw1\nmurano_token=abc=def: x\n",
    "[device]\nmurano_id = a\n[edged]\nmurano_id = b\nqueuing = False\n",
    "murano_id = a\n[edged]\nmurano_id = c\n[x]\ndebug = INFO # not a comment\n",
    "[s]\nk = 1\nk = 2\n[t]\nk = 3\n[s]\nk2 =\n",
    "key = 100%\n[a]x\nb: c = d\n",
]


@pytest.mark.parametrize("text", INI_TEXTS)
def test_plain_ini_read_as_configparser_reads_it(text):
    fast = settings._read_plain_ini(text)
    assert fast is not None
    assert fast == _configparser_view(text)


@pytest.mark.parametrize("text", [
    "murano_id = a\n  continued\n", "[DEFAULT]\nk = 1\n[s]\nj = 2\n", "just a word\n", "= v\n", "[]\nk = v\n",
])
def test_other_ini_files_go_to_configparser(text, tmp_path):
    assert settings._read_plain_ini(text) is None
    p = tmp_path / "x.ini"
    p.write_text(text)
    try:
        want = _configparser_view(text)
    except Exception:
        with pytest.raises(settings.SettingsError):
            settings.read_ini(str(p))
    else:
        assert settings.read_ini(str(p)) == want


_LINE = st.one_of(
    st.sampled_from(["", "# c", "; c", "[edged]", "[device]", "[Edged]", "[a] b", "k", "=v"]),
    st.builds(lambda k, sep, v: "%s%s%s" % (k, sep, v),
              st.text("abcK_ :=", min_size=1, max_size=6), st.sampled_from(["=", ":", " = ", ": "]),
              st.text("xy=:%# ", max_size=6)),
)


@settings_h(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8))
def test_plain_ini_reader_agrees_with_configparser(lines):
    import configparser

    text = "\n".join(lines) + "\n"
    fast = settings._read_plain_ini(text)
    try:
        want = _configparser_view(text)
    except configparser.Error:
        assert fast is None
        return
    if fast is not None:
        assert fast == want
