import os
import stat
import subprocess
import sys

import pytest

from edge_helpers import PYPATH
from uedge_host import settings
from uedge_host.cli import build_parser, main


def test_precedence_cli_env_ini_default(tmp_path):
    ini = tmp_path / "edged.ini"
    ini.write_text("murano_id = from-ini\nmurano_host = ini.example.com\nqueue_size = 50\n")
    env = {"EDGED_MURANO_HOST": "mqtts://env.example.com", "EDGED_QUEUE_STRATEGY": "latest"}
    s = settings.resolve({"ini_file": str(ini), "murano_host": "https://cli.example.com"}, env=env)
    assert s.murano_id == "from-ini" and s.origin["murano_id"] == "ini"
    assert s.murano_host == "https://cli.example.com" and s.origin["murano_host"] == "cli"
    assert s.queue_strategy == "latest" and s.origin["queue_strategy"] == "env"
    assert s.queue_items == 50 and s.queue_bytes == 20000000  # queue_size adds a report cap
    assert s.queuing is True and s.origin["queuing"] == "default"
    assert s.queue_path == str(tmp_path / "from-ini.queue.db")
    assert s.status_file == str(tmp_path / "from-ini.status.json")
    s = settings.resolve({"ini_file": str(ini)}, env=env)
    assert s.murano_host == "mqtts://env.example.com"


def test_sectioned_ini_and_env_ini_file(tmp_path):
    ini = tmp_path / "dev.ini"
    ini.write_text("# gateway\n[device]\nmurano_id = 0001\nqueuing = off\n\n[other]\nhttp_timeout = 3\n")
    s = settings.resolve({}, env={"EDGED_INI_FILE": str(ini)})
    assert s.murano_id == "0001" and s.queuing is False
    # a bare http_timeout below 1000 is uedge's former request timeout in seconds
    assert s.request_timeout == 3.0 and s.http_long_poll_ms == 300000 and s.warnings


def test_bad_values_name_the_setting(tmp_path):
    with pytest.raises(settings.SettingsError, match="queuing_drop_strategy"):
        settings.resolve({"queue_strategy": "middle"}, env={})
    with pytest.raises(settings.SettingsError, match="EDGED_MURANO_PORT"):
        settings.resolve({}, env={"EDGED_MURANO_PORT": "eighty"})
    with pytest.raises(settings.SettingsError, match="queue_size"):
        settings.resolve({"queue_size": "lots"}, env={})
    with pytest.raises(settings.SettingsError, match="live_batch_ms"):
        settings.resolve({"live_batch_ms": -1}, env={})
    with pytest.raises(settings.SettingsError, match="EDGED_STATUS_INTERVAL"):
        settings.resolve({}, env={"EDGED_STATUS_INTERVAL": "often"})
    with pytest.raises(settings.SettingsError, match="status_interval"):
        settings.resolve({"status_interval": 0}, env={})


def test_live_batch_and_status_interval_defaults_and_overrides():
    s = settings.resolve({}, env={})
    assert s.live_batch_ms == 100 and s.status_interval == 2.0
    s = settings.resolve({"live_batch_ms": 0}, env={"EDGED_STATUS_INTERVAL": "0.5"})
    assert s.live_batch_ms == 0 and s.status_interval == 0.5
    args = build_parser().parse_args(["--live-batch-ms", "250", "--status-interval", "5", "go"])
    s = settings.resolve({"live_batch_ms": args.live_batch_ms, "status_interval": args.status_interval}, env={})
    assert s.live_batch_ms == 250 and s.status_interval == 5.0


def test_update_ini_in_place_0600(tmp_path):
    ini = tmp_path / "edged.ini"
    ini.write_text("# my gateway\nmurano_id = 0001\nmurano_token = old\n")
    os.chmod(ini, 0o644)
    settings.update_ini(str(ini), {"murano_token": "new", "murano_host": "h.example.com"})
    text = ini.read_text()
    assert text.startswith("# my gateway\nmurano_id = 0001\nmurano_token = new\n")
    assert "murano_host = h.example.com" in text
    assert stat.S_IMODE(os.stat(ini).st_mode) == 0o600
    sect = tmp_path / "s.ini"
    sect.write_text("[device]\nmurano_id = 2\n\n[extra]\nx = 1\n")
    settings.update_ini(str(sect), {"murano_token": "t"})
    assert settings.read_ini(str(sect))["murano_token"] == "t"
    assert sect.read_text().index("murano_token") < sect.read_text().index("[extra]")


def test_endpoint_selects_transport():
    pe = settings.parse_endpoint
    assert pe("x.m2.exosite.io") == ("https", "x.m2.exosite.io", 443)
    assert pe("mqtts://x.m2.exosite.io") == ("mqtts", "x.m2.exosite.io", 8883)
    assert pe("mqtts://x.m2.exosite.io", 443) == ("mqtts", "x.m2.exosite.io", 443)
    assert pe("mqtt://127.0.0.1:1884/") == ("mqtt", "127.0.0.1", 1884)
    assert pe("http://[::1]:8080") == ("http", "::1", 8080)
    with pytest.raises(settings.SettingsError):
        pe("ftp://x")


def test_sizes():
    assert settings.parse_size("64MB") == (0, 64000000)
    assert settings.parse_size("512 KiB") == (0, 524288)
    assert settings.parse_size("1000") == (1000, 0)


def test_edged_options_parse():
    a = build_parser().parse_args(
        ["-s", "0001", "-H", "h", "-p", "443", "-t", "tok", "-i", "x.ini", "-c", "c.json",
         "-a", "a.json", "-K", "k", "-C", "c", "-E", "ca", "-d", "debug", "--queue-size", "10",
         "--queue-strategy", "latest", "--queue-path", "q.db", "--no-queuing", "go"])
    assert (a.murano_id, a.murano_host, a.murano_port, a.murano_token) == ("0001", "h", "443", "tok")
    assert (a.pkeyfile, a.certfile, a.murano_cacert, a.debug) == ("k", "c", "ca", "DEBUG")
    assert (a.queue_size, a.queuing_drop_strategy, a.queuing_db_path) == ("10", "latest", "q.db")
    assert a.queuing is False and a.command == "go"
    # options after the command work too
    a = build_parser().parse_args(["go", "-s", "0002", "--queuing"])
    assert a.murano_id == "0002" and a.queuing is True


def test_help_and_missing_identity(tmp_path, capsys):
    env = dict(os.environ, PYTHONPATH=PYPATH)
    out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "--help"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0
    for opt in ("--murano-id", "--murano-host", "--queue-strategy", "--ini-file", "status", "connector"):
        assert opt in out.stdout
    rc = main(["-i", str(tmp_path / "none.ini"), "-H", "mqtt://127.0.0.1:1", "go", "--duration", "0.1"])
    assert rc == 2


def test_run_dry_run_and_connector_are_delegated():
    env = dict(os.environ, PYTHONPATH=PYPATH)
    ex = os.path.join(os.path.dirname(PYPATH.split(os.pathsep)[1]), "host", "uedge_host", "examples",
                      "simulated_config_io.json")
    out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "run", "--config", ex, "--dry-run",
                          "--simulated-time", "--duration", "2"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"001":' in out.stdout
    out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "connector", "--help"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and "serve" in out.stdout
