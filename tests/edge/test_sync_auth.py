"""Against the seed-strict connector, with real `uedge go` processes: auth
options, data_out applied once across restarts (MQTT and HTTP), no identical
config_io written again on reconnect, and recovery after a half-open freeze
(SIGSTOP / SIGCONT of the connector)."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from edge_helpers import PYPATH, Uedge, make_config, wait_for
from uedge_connector.testing import running_connector
from uedge_host import settings

PASSWORD = "a1b2c3d4e5f6g7h8i9j0-uedge"


# -- options -------------------------------------------------------------------

def test_cert_without_key_names_the_missing_option(tmp_path):
    with pytest.raises(settings.SettingsError, match=r"-K/--pkeyfile \(pkeyfile\) is missing"):
        settings.resolve({"certfile": "c.pem", "murano_id": "x"}, env={})
    with pytest.raises(settings.SettingsError, match=r"-C/--certfile \(certfile\) is missing"):
        settings.resolve({}, env={"EDGED_PKEYFILE": "k.pem"})
    assert settings.resolve({"certfile": "c.pem", "pkeyfile": "k.pem"}, env={}).auth == "cert"


def test_cli_cert_without_key_is_an_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYPATH)
    r = subprocess.run([sys.executable, "-m", "uedge_host.cli", "-s", "x", "-H", "mqtt://127.0.0.1:1",
                        "-C", str(tmp_path / "c.pem"), "go", "--duration", "1"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode != 0
    assert "-K/--pkeyfile" in (r.stdout + r.stderr)


def test_password_settings(tmp_path):
    s = settings.resolve({"murano_id": "x"}, env={"EDGED_MURANO_PASSWORD": PASSWORD})
    assert s.auth == "password" and s.murano_password == PASSWORD
    assert s.as_dict()["murano_password"] == "(set)"
    ini = tmp_path / "d.ini"
    ini.write_text("murano_id = x\nmurano_auth = password\n")
    assert settings.resolve({"ini_file": str(ini)}, env={}).auth == "password"
    with pytest.raises(settings.SettingsError, match="at least 20 characters"):
        settings.resolve({"murano_password": "short"}, env={})
    with pytest.raises(settings.SettingsError, match="murano_auth must be"):
        settings.resolve({"murano_auth": "magic"}, env={})


def _password_device(tmp_path, conn, dev, extra):
    cfg = make_config(n=1, rate_ms=200, control=False)
    return Uedge(tmp_path, conn, dev, cfg, extra=extra)


def test_password_auth_against_the_connector(tmp_path):
    with running_connector(tmp_path, auth="password") as conn:
        # given on the command line: provisioned with it, then used
        u = _password_device(tmp_path, conn, "pw-given", ["--murano-password", PASSWORD]).start()
        try:
            wait_for(lambda: len(u.data_in()) >= 3, what="reporting with the given password")
            assert PASSWORD not in u.log_text()
        finally:
            u.stop()
        u.start()  # the second start connects with it (already provisioned)
        try:
            n = len(u.data_in())
            wait_for(lambda: len(u.data_in()) > n + 2, what="reporting after a restart")
            assert PASSWORD not in u.log_text()
        finally:
            u.stop()
        # none given: one is generated, kept 0600 in the INI, and used next time
        g = _password_device(tmp_path, conn, "pw-gen", ["--murano-auth", "password"]).start()
        try:
            wait_for(lambda: "murano_password" in g.ini_text(), what="password in the INI")
            wait_for(lambda: len(g.data_in()) >= 3, what="reporting with the generated password")
            pw = [ln.split("=", 1)[1].strip() for ln in g.ini_text().splitlines()
                  if ln.startswith("murano_password")][0]
            assert len(pw) >= 20 and pw not in g.log_text()
            assert stat.S_IMODE(os.stat(g.ini).st_mode) == 0o600
        finally:
            g.stop()
        g.start()
        try:
            n = len(g.data_in())
            wait_for(lambda: len(g.data_in()) > n + 2, what="reporting after a restart")
        finally:
            g.stop()


# -- data_out once, config_io not rewritten ---------------------------------------

def _valve_config():
    cfg = make_config(n=1, rate_ms=500, control=True)
    return cfg


def _state_file(u):
    return os.path.join(u.dir, "config_io.sync.json")


def _data_out_writes(conn, dev):
    return [v for _ts, v in conn.history(dev, "data_out", source="device")]


def _echoes(u, value):
    return [d for _ts, d in u.data_in() if d.get("009") == value]


@pytest.mark.parametrize("scheme,ext", [("mqtt", []), ("http", []), ("mqtt", ["--resend-on-connect"])])
def test_data_out_is_applied_once_across_restarts(tmp_path, scheme, ext):
    """(With --resend-on-connect the connector delivers the same write again
    after CONNACK, with its topic timestamp: the same request, not carried out.)"""
    dev = "once-" + scheme + ("-resend" if ext else "")
    with running_connector(tmp_path, extra_args=ext) as conn:
        u = Uedge(tmp_path, conn, dev, _valve_config(), scheme=scheme).start()
        try:
            wait_for(lambda: "murano_token" in u.ini_text() and u.status() and u.status()["connected"],
                     what="connected")
            conn.set_resource(dev, "data_out", '{"009": 30}')
            wait_for(lambda: _echoes(u, 30), what="set point 30 applied")
            wait_for(lambda: os.path.exists(_state_file(u)), what="sync state saved")
            u.wait_status(lambda s: s["control_ok"] == 1, what="status: one request applied")
        finally:
            u.stop()
        # restarted: the set point is back at its initial 21 (as if changed by
        # hand); the data_out still on the connector must not set it to 30 again
        u.start()
        try:
            wait_for(lambda: u.status() and u.status()["connected"], what="connected again")
            time.sleep(4)  # a connect-time read and several long polls
            st = u.status()
            assert st["control_ok"] == 0, u.log_text()[-3000:]
            assert st["channels"]["009"]["value"] == 21
            # a new request with the same value is carried out
            conn.set_resource(dev, "data_out", '{"009": 30}')
            u.wait_status(lambda s: s["control_ok"] == 1, what="the new identical request applied")
            u.wait_status(lambda s: s["channels"]["009"]["value"] == 30, what="set point 30 again")
            time.sleep(3)
            assert u.status()["control_ok"] == 1  # and only once
        finally:
            u.stop()


@pytest.mark.parametrize("scheme", ["mqtt", "http"])
def test_unchanged_config_io_is_not_written_again_on_reconnect(tmp_path, scheme):
    dev = "nodup-" + scheme
    cfg = make_config(n=1, rate_ms=300, control=False)
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, dev, cfg, scheme=scheme).start()
        try:
            wait_for(lambda: [v for _t, v in conn.history(dev, "config_io")], what="config_io written up")
            for _ in range(2):
                conn.stop()
                conn.start()
                wait_for(lambda: u.status() and u.status()["connected"], timeout=60, what="reconnected")
                time.sleep(3)
            u.stop()
            u.start()
            wait_for(lambda: u.status() and u.status()["connected"], timeout=60, what="restarted")
            time.sleep(3)
            writes = [v for _t, v in conn.history(dev, "config_io", source="device")]
            assert len(writes) == 1, "identical config_io written %d times" % len(writes)
            assert json.loads(writes[0])["channels"].keys() == cfg["channels"].keys()
        finally:
            u.stop()


# -- recovery ------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["mqtt", "http"])
def test_reconnects_soon_after_a_frozen_connector_resumes(tmp_path, scheme):
    """SIGSTOP of the connector (half-open: TCP accepted, nothing answered, so
    connect attempts time out) for 20 s after the device saw the link go down
    (MQTT: no PINGRESP within the keepalive), then SIGCONT: the device is
    connected again within 10 s, the timeouts did not push its backoff further."""
    dev = "freeze-" + scheme
    cfg = make_config(n=1, rate_ms=200, control=False)
    with running_connector(tmp_path) as conn:
        # the helper's --reconnect-max 1 would hide the backoff: use the default (60 s)
        u = Uedge(tmp_path, conn, dev, cfg, scheme=scheme, extra=["--request-timeout", "3"])
        i = u.args.index("--reconnect-max")
        del u.args[i:i + 2]
        u.start()
        try:
            wait_for(lambda: len(u.data_in()) >= 3, what="reporting")
            conn.proc.send_signal(signal.SIGSTOP)
            try:
                u.wait_status(lambda s: not s["connected"], timeout=150, what="link seen down")
                time.sleep(20)  # attempts time out meanwhile (backoff would reach 16 s)
            finally:
                conn.proc.send_signal(signal.SIGCONT)
            resumed = time.monotonic()
            u.wait_status(lambda s: s["connected"], timeout=60, what="connected after the resume")
            took = time.monotonic() - resumed
            print("FIGURE reconnect_after_resume_%s %.1f s" % (scheme, took))
            assert took < 10, "connected %.1f s after the connector resumed" % took
            n = len(u.data_in())
            wait_for(lambda: len(u.data_in()) > n, what="reports after the resume")
        finally:
            u.stop()
