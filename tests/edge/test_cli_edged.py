"""edged's option names, INI keys and EDGED_* variables (and uedge's older names as aliases)."""

import io
import logging
import os
import subprocess
import sys

import pytest

from edge_helpers import PYPATH
from uedge_host import cli, daemon, logsetup, settings
from uedge_host import transport as host_transport


def test_edged_short_and_long_options():
    a = cli.parse_args(
        ["-s", "0001", "-H", "h.example.com", "-p", "443", "-t", "tok", "-i", "x.ini",
         "-c", "c.json", "-a", "a.json", "-K", "k.pem", "-C", "c.pem", "-E", "ca.pem", "-d", "warning",
         "-q", "False", "--queuing-batch-amount", "25", "--queuing-db-max-size", "1000000",
         "--queuing-db-path", "/tmp/q", "--queuing-drop-strategy", "latest",
         "--queuing-record-rate", "0.5", "--queuing-remove-unused-device", "True",
         "--http-timeout", "60000", "--edged-timeout", "7", "go"])
    assert (a.murano_id, a.murano_host, a.murano_port, a.murano_token) == ("0001", "h.example.com", "443", "tok")
    assert (a.ini_file, a.config_io_file, a.config_applications_file) == ("x.ini", "c.json", "a.json")
    assert (a.pkeyfile, a.certfile, a.murano_cacert, a.debug) == ("k.pem", "c.pem", "ca.pem", "WARNING")
    assert a.queuing is False and a.queuing_remove_unused_device is True
    assert (a.queuing_batch_amount, a.queuing_db_max_size, a.queuing_db_path) == ("25", "1000000", "/tmp/q")
    assert (a.queuing_drop_strategy, a.queuing_record_rate) == ("latest", "0.5")
    assert a.http_timeout == "60000" and a.edged_timeout == 7.0 and a.command == "go"
    long_ = cli.parse_args(["--murano-id", "1", "--murano-host", "h", "--murano-port", "1",
                            "--murano-token", "t", "--pkeyfile", "k", "--certfile", "c",
                            "--murano-cacert", "ca", "--config-io-file", "c", "--debug", "DEBUG",
                            "--config-applications-file", "a", "--ini-file", "i", "status"])
    assert (long_.pkeyfile, long_.certfile, long_.murano_cacert) == ("k", "c", "ca")


def test_older_uedge_option_names_still_work():
    a = cli.parse_args(["--serial-number", "9", "--host", "h", "--port", "1", "--token", "t",
                        "--pkey-file", "k", "--cert-file", "c", "--ca-file", "ca",
                        "--queue-strategy", "latest", "--queue-path", "q.db", "--queue-size", "10",
                        "--replay-rate", "5", "--reconnect-max", "1", "--no-queuing", "go"])
    assert (a.murano_id, a.murano_host, a.murano_port, a.murano_token) == ("9", "h", "1", "t")
    assert (a.pkeyfile, a.certfile, a.murano_cacert) == ("k", "c", "ca")
    assert (a.queuing_drop_strategy, a.queuing_db_path, a.queue_size) == ("latest", "q.db", "10")
    assert a.queuing is False and a.replay_rate == "5"
    a = cli.parse_args(["--murano-pkey-file", "k", "--murano-cert-file", "c", "--murano-ca-file", "ca", "go"])
    assert (a.pkeyfile, a.certfile, a.murano_cacert) == ("k", "c", "ca")


@pytest.mark.parametrize("argv,want", [
    (["-q", "False", "go"], False),
    (["-q", "false", "go"], False),
    (["--queuing", "0", "go"], False),
    (["--queuing=no", "go"], False),
    (["go", "-q", "False"], False),
    (["-q", "True", "go"], True),
    (["-q", "go"], True),           # the value may be left out
    (["--queuing", "go"], True),
    (["go", "--queuing"], True),
    (["--queuing", "-s", "x", "go"], True),
    (["--no-queuing", "go"], False),
    (["go"], None),
])
def test_queuing_takes_a_bool_value(argv, want):
    a = cli.parse_args(argv)
    assert a.queuing is want and a.command == "go"


def test_queuing_bad_bool_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["-q", "maybe", "go"])
    assert "True or False" in capsys.readouterr().err


def test_edged_ini_keys_and_env(tmp_path):
    ini = tmp_path / "edged.ini"
    ini.write_text(
        "murano_id = gw1\nmurano_host = h.example.com\npkeyfile = k.pem\ncertfile = c.pem\n"
        "murano_cacert = ca.pem\nqueuing = False\nqueuing_batch_amount = 30\n"
        "queuing_db_max_size = 1MB\nqueuing_drop_strategy = latest\nqueuing_record_rate = 2\n"
        "queuing_remove_unused_device = true\nhttp_timeout = 60000\ndebug = warning\n")
    s = settings.resolve({"ini_file": str(ini)}, env={})
    assert (s.pkeyfile, s.certfile, s.murano_cacert) == ("k.pem", "c.pem", "ca.pem")
    assert s.queuing is False and s.queuing_remove_unused_device is True
    assert (s.batch_items, s.batch_bytes) == (30, settings.FIXED_BATCH_BYTES)
    assert s.queue_bytes == 1000000 and s.queue_items == 0
    assert s.queuing_drop_strategy == "latest" and s.replay_rate == 0.5
    assert s.http_long_poll_ms == 60000 and s.request_timeout == 10.0 and not s.warnings
    assert s.debug == "WARNING"
    # older names read through: the attributes and origins of the aliases follow
    assert (s.pkey_file, s.cert_file, s.ca_file, s.queue_strategy) == ("k.pem", "c.pem", "ca.pem", "latest")
    assert s.origin["queue_strategy"] == "ini"
    env = {"EDGED_QUEUING": "True", "EDGED_QUEUING_DB_MAX_SIZE": "5000", "EDGED_PKEYFILE": "env.pem",
           "EDGED_QUEUING_RECORD_RATE": "0", "EDGED_HTTP_TIMEOUT": "30s", "EDGED_DEBUG": "ERROR"}
    s = settings.resolve({"ini_file": str(ini)}, env=env)
    assert s.queuing is True and s.origin["queuing"] == "env"
    assert s.queue_bytes == 5000 and s.pkeyfile == "env.pem" and s.replay_rate == 0.0
    assert s.http_long_poll_ms == 30000 and s.debug == "ERROR"
    s = settings.resolve({"ini_file": str(ini), "queuing": True, "queuing_record_rate": "4"}, env=env)
    assert s.origin["queuing"] == "cli" and s.replay_rate == 0.25


def test_older_ini_keys_are_aliases(tmp_path):
    ini = tmp_path / "old.ini"
    ini.write_text("murano_id = gw2\npkey_file = k.pem\ncert_file = c.pem\nca_file = ca.pem\n"
                   "queue_strategy = latest\nqueue_path = %s\nqueue_size = 64MB\nreplay_rate = 20\n"
                   % (tmp_path / "q.db"))
    s = settings.resolve({"ini_file": str(ini)}, env={"EDGED_CA_FILE": "env-ca.pem"})
    assert (s.pkeyfile, s.certfile, s.murano_cacert) == ("k.pem", "c.pem", "env-ca.pem")
    assert s.queuing_drop_strategy == "latest" and s.queue_path == str(tmp_path / "q.db")
    assert (s.queue_items, s.queue_bytes) == (0, 64000000)
    assert s.replay_rate == 20.0  # replay_rate overrides queuing_record_rate
    # the edged name wins over the older one in the same place
    ini.write_text("pkeyfile = new.pem\npkey_file = old.pem\ncertfile = c.pem\n")
    assert settings.resolve({"ini_file": str(ini)}, env={}).pkeyfile == "new.pem"


def test_defaults_follow_edged():
    s = settings.resolve({}, env={})
    assert s.queuing is True and s.queuing_drop_strategy == "oldest"
    assert s.queue_bytes == 20000000 and s.queue_items == 0
    assert (s.batch_items, s.batch_bytes) == (settings.AUTO_BATCH_ITEMS, settings.AUTO_BATCH_BYTES)
    assert s.batch_bytes < 65536
    assert s.replay_rate == 1.0 and s.http_long_poll_ms == 300000
    assert s.queuing_remove_unused_device is False and s.debug == "INFO"
    assert s.ota is False


def test_queuing_db_path_may_be_a_directory(tmp_path):
    s = settings.resolve({"murano_id": "gw3", "queuing_db_path": str(tmp_path)}, env={})
    assert s.queue_path == str(tmp_path / "gw3.queue.db")
    s = settings.resolve({"murano_id": "gw3", "queuing_db_path": str(tmp_path / "x.db")}, env={})
    assert s.queue_path == str(tmp_path / "x.db")


def test_bad_edged_values_name_the_setting():
    with pytest.raises(settings.SettingsError, match="EDGED_QUEUING:"):
        settings.resolve({}, env={"EDGED_QUEUING": "maybe"})
    with pytest.raises(settings.SettingsError, match="queuing_db_max_size"):
        settings.resolve({"queuing_db_max_size": "lots"}, env={})
    with pytest.raises(settings.SettingsError, match="queuing_batch_amount"):
        settings.resolve({"queuing_batch_amount": "-1"}, env={})
    with pytest.raises(settings.SettingsError, match="http_timeout"):
        settings.resolve({"http_timeout": "soon"}, env={})
    with pytest.raises(settings.SettingsError, match="debug"):
        settings.resolve({}, env={"EDGED_DEBUG": "LOUD"})


def test_http_timeout_units():
    pt = settings.parse_http_timeout
    assert pt("300000") == (300000, None)
    assert pt("1500ms") == (1500, None) and pt("30s") == (30000, None) and pt("5m") == (300000, None)
    assert pt(300000) == (300000, None)
    assert pt("2") == (None, 2.0)  # uedge's former meaning: request timeout, seconds
    s = settings.resolve({"http_timeout": "2", "request_timeout": "4"}, env={})
    assert s.request_timeout == 4.0 and s.http_long_poll_ms == 300000  # request_timeout given wins


def test_edged_log_env(tmp_path):
    assert settings.log_settings({}) == ("stderr", 1024000, 3)
    env = {"EDGED_LOG_FILENAME": str(tmp_path / "logs" / "edged.log"), "EDGED_LOG_MAX_BYTES": "300",
           "EDGED_LOG_MAX_BACKUPS": "2", "EDGED_LOG_DEBUG": "debug"}
    assert settings.log_settings(env) == (str(tmp_path / "logs" / "edged.log"), 300, 2)
    # EDGED_LOG_DEBUG is the level when debug is not set elsewhere
    s = settings.resolve({}, env=env)
    assert s.debug == "DEBUG" and s.origin["debug"] == "env"
    assert settings.resolve({"debug": "ERROR"}, env=env).debug == "ERROR"
    assert settings.resolve({}, env=dict(env, EDGED_DEBUG="WARNING")).debug == "WARNING"
    with pytest.raises(settings.SettingsError, match="EDGED_LOG_MAX_BYTES"):
        settings.log_settings({"EDGED_LOG_MAX_BYTES": "big"})
    # a file destination rotates by size and keeps EDGED_LOG_MAX_BACKUPS old files
    level = logging.getLogger().level
    out = logsetup.setup_logging("DEBUG", env)
    try:
        lg = logsetup.getLogger("uedge.test")
        for i in range(40):
            lg.debug("line %03d of the rotation test", i)
        names = sorted(os.listdir(tmp_path / "logs"))
        assert names == ["edged.log", "edged.log.1", "edged.log.2"]
        assert all(os.path.getsize(tmp_path / "logs" / n) <= 300 for n in names)
        # a library logging through the logging package lands in the same file
        logging.getLogger("somelib.test").warning("from %s", "a library")
        with open(tmp_path / "logs" / "edged.log") as f:
            last = f.read().splitlines()[-1]
        assert last.endswith(" WARNING somelib.test: from a library"), last
        assert last[:4].isdigit() and last[19] == ","  # logging's asctime: 2026-01-01 12:00:00,123
    finally:
        out.close()
    buf = io.StringIO()
    old = sys.stdout
    sys.stdout = buf
    try:
        logsetup.setup_logging("INFO", {"EDGED_LOG_FILENAME": "stdout"})
        logsetup.getLogger("uedge.test").info("to stdout")
        logsetup.getLogger("uedge.test").debug("not shown")
        logging.getLogger("lib.test").debug("not shown either")
    finally:
        sys.stdout = old
        logsetup.setup_logging("INFO", {"EDGED_LOG_FILENAME": "stderr"})
        logging.getLogger().setLevel(level)
    assert "to stdout" in buf.getvalue() and "not shown" not in buf.getvalue()


def test_list_commands_help_and_deprecated_options(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYPATH)
    out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "-L"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0
    listed = [ln.split()[0] for ln in out.stdout.splitlines() if ln.strip()]
    assert listed == ["go", "status", "run", "connector", "version"]
    out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "--help"], capture_output=True,
                         text=True, env=env, timeout=30)
    assert out.returncode == 0
    for opt in ("--list-commands", "--murano-id", "--pkeyfile", "--certfile", "--murano-cacert",
                "--queuing ", "--queuing-batch-amount", "--queuing-db-max-size", "--queuing-db-path",
                "--queuing-drop-strategy", "--queuing-record-rate", "--queuing-remove-unused-device",
                "--http-timeout", "--edged-timeout", "--no-filesystem", "--strategy", "--ota"):
        assert opt in out.stdout, opt
    # deprecated edged options are accepted and warned about; the daemon still starts
    # (here: and stops at once, no identity)
    out = subprocess.run(
        [sys.executable, "-m", "uedge_host.cli", "-i", str(tmp_path / "none.ini"), "-H", "mqtt://127.0.0.1:1",
         "--no-filesystem", "--no-config-cache", "--no-config-sync", "--watchlist", "data_out",
         "--strategy", "local", "--edged-timeout", "0.1", "go"],
        capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 2  # murano_id is not set
    for opt in ("--no-filesystem", "--no-config-cache", "--no-config-sync", "--watchlist", "--strategy"):
        assert "%s is DEPRECATED" % opt in out.stderr, opt
    a = cli.parse_args(["--strategy", "local", "go"])
    assert a.strategy == "local"


def test_remove_unused_device_queues(tmp_path):
    for n in ("gw1.queue.db", "gw1.queue.db-wal", "gw2.queue.db", "gw2.queue.db-wal", "gw2.queue.db-shm",
              "keep.txt", "gw1.ini"):
        (tmp_path / n).write_text("x")
    removed = daemon.remove_unused_queues(str(tmp_path / "gw1.queue.db"))
    assert removed == ["gw2.queue.db", "gw2.queue.db-shm", "gw2.queue.db-wal"]
    assert sorted(os.listdir(tmp_path)) == ["gw1.ini", "gw1.queue.db", "gw1.queue.db-wal", "keep.txt"]


def test_timeouts_reach_the_transports():
    from uedge.compat import Clock

    s = settings.resolve({"murano_id": "x", "murano_host": "http://127.0.0.1:1", "http_timeout": "45000",
                          "request_timeout": "4"}, env={})
    t, scheme = host_transport.make_transport(s, Clock())
    assert scheme == "http" and t.long_poll_ms == 45000 and t.timeout_ms == 4000
    s = settings.resolve({"murano_id": "x", "murano_host": "mqtt://127.0.0.1:1", "http_timeout": "2"}, env={})
    t, scheme = host_transport.make_transport(s, Clock())
    assert scheme == "mqtt" and t.timeout_ms == 2000  # former meaning: request timeout in seconds
