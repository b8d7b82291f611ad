"""The official murano-client package (PyPI) against the local connector:
HTTPS device API (activate, write, read, record, long-poll, content, timestamp)
and its MQTT client (activation over $provision, batch tells, watched updates).

murano-client runs in a child process (murano_client_driver.py): importing it
reconfigures the root logger and sys.excepthook, which must not leak into the
rest of the test session.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from uedge_connector.testing import PACKAGE_ROOT, running_connector

HERE = os.path.dirname(os.path.abspath(__file__))
pytest.importorskip("murano_client")


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("murano-client")) as c:
        yield c


def drive(conn, scenario, **extra):
    cfg = {"https_port": conn.https_port, "mqtts_port": conn.mqtts_port,
           "ca_path": conn.ca_path, "admin_url": conn.admin_url}
    cfg.update(extra)
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "murano_client_driver.py"),
                           scenario, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=120, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_https_activate_write_read_record(conn):
    out = drive(conn, "https_basics")
    assert out["activated"] and out["token_len"] == 40
    assert out["second_activation"] == [409, False]
    assert out["write"] == [204, True]
    assert out["read"] == [200, 'data_in={"001": 1.5}']
    assert out["record"] == [204, True]
    # a timestamp already holding a point: 409, the conflict as murano-client reads it,
    # and nothing of that request stored
    assert out["record_again"] == [409, True, [1700000001.0]]
    assert out["bad_token_write"] == 401
    assert abs(out["timestamp"] - time.time()) < 60
    hist = conn.history("mc-http-1", "data_in")
    assert (1700000000 * 1000000, '{"001": 1}') in hist
    assert (1700000001 * 1000000, '{"001": 2}') in hist
    assert not [v for _ts, v in hist if v in ('{"001": 3}', '{"001": 4}')]
    assert conn.get_resource("mc-http-1", "data_in") == '{"001": 1.5}'
    assert conn.history("mc-http-1", "config_io") == [(1700000000 * 1000000, '{"channels": {}}')]


def test_https_long_poll(conn):
    out = drive(conn, "https_long_poll")
    assert out["idle"] == 304
    assert out["released"] == [200, 'config_io={"channels": {"1": {}}}', True]
    # If-Modified-Since: a value set after that second returns at once, whether or
    # not the device wrote it back; one set before it makes the long poll wait.
    assert out["since_0"] == [200, 'config_io={"channels": {"1": {}}}']
    assert out["ack"] == 204
    assert out["after_ack"] == 200
    assert out["since_later"] == 304


def test_murano_client_watch_sees_a_value_again_and_again_unless_poll_unacked(conn, tmp_path):
    """murano-client always sends If-Modified-Since: 0, so on the strict reading of
    the HTTP page it is handed the last data_out on every long poll, written back
    or not; it relies on the platform dropping a written-back value from the long
    poll, which is the --poll-unacked extension. (A device must work either way.)"""
    out = drive(conn, "https_watch_repeat")
    assert len(out["received"]) >= 3
    with running_connector(tmp_path, extra_args=["--poll-unacked"]) as c:
        out = drive(c, "https_watch_repeat")
    assert len(out["received"]) == 1


def test_https_long_poll_poll_unacked_flag(tmp_path):
    with running_connector(tmp_path, extra_args=["--poll-unacked"]) as c:
        out = drive(c, "https_long_poll")
    assert out["since_0"] == [200, 'config_io={"channels": {"1": {}}}']
    # with the extension, a value the device wrote back is no longer returned
    assert out["after_ack"] == 304
    assert out["since_later"] == 304


def test_https_content(conn):
    out = drive(conn, "https_content")
    assert out["list"] == [200, "fw-1.bin\r\nnotes.txt"]
    assert out["info"].split(",")[:2] == ["application/octet-stream", "1024"]
    assert out["download_ok"]
    assert out["missing"] == 404


def test_murano_client_https_threads(conn):
    out = drive(conn, "https_threads")
    assert out["watched"] == ["config_io", '{"channels": {}}']
    # its HTTP tell thread records with whole-second timestamps
    assert [h[:2] for h in out["history"]] == [[1700000100 * 1000000, '{"001": 9}']]


def test_murano_client_mqtt(conn):
    out = drive(conn, "mqtt_flow")
    assert out["token_len"] == 40
    assert [h[:2] for h in out["history"]] == [[1700000000500000, '{"001": 3}']]
    assert out["watched"] == ["config_io", str(out["set_ts"]), '{"channels": {"9": {}}}']
    assert out["ack"] is True
    assert out["latest_source"] == "device"


def test_murano_client_with_a_tls_client_certificate(tmp_path):
    from uedge_connector import pki

    with running_connector(tmp_path, auth="cert") as cert_conn:
        certfile, pkeyfile = pki.make_client_cert(str(tmp_path / "certs"), cert_conn.pki,
                                                  "mc-cert")
        out = drive(cert_conn, "cert_flow", certfile=certfile, pkeyfile=pkeyfile)
    assert out["activated"] is True
    assert out["write"] == 204
    assert out["read"] == 'data_in={"001": 5}'
    assert [h[1] for h in out["history"]] == ['{"001": 6}', '{"001": 5}']
