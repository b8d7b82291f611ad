"""MuranoMQTT and MuranoHTTP against the local IoT connector (a real server)."""

import os

import mqtt_helpers
import pytest
from mqtt_helpers import wait

from uedge.transport.link import AuthError
from uedge.transport.murano_mqtt import MuranoMQTT
from uedge.transport.murano_http import MuranoHTTP

testing = pytest.importorskip("uedge_connector.testing")


def pump(m, cond, timeout=8.0):
    return mqtt_helpers.pump(m, cond, timeout)


def deliver(c, link, device, value):
    """Connect link and write value to data_in: acknowledged, and stored by the
    connector c; then close the link."""
    acks = []
    link.on_ack = acks.append
    link.connect()
    mid = link.write("data_in", value)
    assert pump(link, lambda: mid in acks)
    assert wait(lambda: c.get_resource(device, "data_in") == value)
    link.close()


def test_mqtt_tls_token_provision_write_record_update(conn, tmp_path):
    cred = str(tmp_path / "token")
    m = MuranoMQTT(conn.host, conn.mqtts_port, "mq-dev-1", auth="token", credentials_path=cred,
                   ca=conn.ca_path, server_hostname="localhost")
    m.provision()
    token = open(cred).read()
    assert len(token) >= 20
    updates, acks = [], []
    m.on_update = lambda a, v, ts: updates.append((a, v, ts))
    m.on_ack = acks.append
    m.connect()
    a = m.write("data_in", '{"001":73.16492}')
    b = m.write_many({"config_io": '{"channels":{}}'})
    c = m.record([(1531111131679000, {"data_in": '{"001":1}'})])
    assert pump(m, lambda: sorted(acks) == sorted([a, b, c]))
    assert wait(lambda: conn.get_resource("mq-dev-1", "data_in") is not None)
    hist = conn.history("mq-dev-1", "data_in")
    assert (1531111131679000, '{"001":1}') in [tuple(h) for h in hist]
    assert conn.get_resource("mq-dev-1", "config_io") == '{"channels":{}}'
    conn.set_resource("mq-dev-1", "data_out", '{"002":1}')
    assert pump(m, lambda: any(u[0] == "data_out" for u in updates))
    u = [u for u in updates if u[0] == "data_out"][0]
    assert u[1] == '{"002":1}' and isinstance(u[2], int) and u[2] > 10**15
    assert token not in repr(m)
    m.close()


def test_mqtt_wrong_token_not_authorized(conn, tmp_path):
    cred = tmp_path / "token"
    cred.write_text("x" * 40)
    m = MuranoMQTT(conn.host, conn.mqtts_port, "mq-dev-2", credentials_path=str(cred), ca=conn.ca_path)
    with pytest.raises(AuthError, match="not authorized"):
        m.connect()


def test_mqtt_content_list(conn, tmp_path):
    conn.upload_content("hello.txt", b"hello world", "text/plain")
    m = MuranoMQTT(conn.host, conn.mqtts_port, "mq-dev-3", credentials_path=str(tmp_path / "t"), ca=conn.ca_path)
    m.connect()
    items = m.content_list()
    assert any(i["name"] == "hello.txt" and i["length"] == 11 for i in items)
    m.close()


def test_mqtt_connector_restart_reconnects(conn, tmp_path):
    m = MuranoMQTT(conn.host, conn.mqtts_port, "mq-dev-4", credentials_path=str(tmp_path / "t"),
                   ca=conn.ca_path, backoff_base_ms=200, backoff_cap_ms=1000, keepalive=5)
    acks = []
    m.on_ack = acks.append
    m.connect()
    conn.kill()
    conn.start()
    assert pump(m, lambda: not m.connected, 10) or True
    assert pump(m, lambda: m.connected, 15)
    mid = m.write("data_in", "after-restart")
    assert pump(m, lambda: mid in acks)
    assert wait(lambda: conn.get_resource("mq-dev-4", "data_in") == "after-restart")
    m.close()


def test_http_activate_write_record_longpoll(conn, tmp_path):
    cred = str(tmp_path / "token")
    h = MuranoHTTP(conn.host, conn.https_port, "http-dev-1", credentials_path=cred, ca=conn.ca_path,
                   long_poll_ms=2000)
    h.provision()
    assert os.path.exists(cred)
    updates, acks = [], []
    h.on_update = lambda a, v, ts: updates.append((a, v))
    h.on_ack = acks.append
    h.connect()
    a = h.write("data_in", '{"001":5}')
    b = h.record([(1700000000000000, {"data_in": '{"001":4}'})])
    assert pump(h, lambda: acks == [a, b])
    assert wait(lambda: conn.get_resource("http-dev-1", "data_in") == '{"001":5}')
    pump(h, lambda: False, 0.3)
    conn.set_resource("http-dev-1", "data_out", '{"002":0}')
    assert pump(h, lambda: ("data_out", '{"002":0}') in updates, 10)
    h.close()


def test_mqtt_password_auth(tmp_path):
    with testing.running_connector(tmp_path / "c", auth="password") as c:
        cred = str(tmp_path / "pw")
        m = MuranoMQTT(c.host, c.mqtts_port, "pw-dev-1", auth="password", credentials_path=cred,
                       ca=c.ca_path, password="a1b2c3d4e5f6g7h8i9j0")
        m.provision()
        deliver(c, m, "pw-dev-1", "by-password")
        bad = tmp_path / "bad"
        bad.write_text("wrong-password-000000000")
        w = MuranoMQTT(c.host, c.mqtts_port, "pw-dev-1", auth="password", credentials_path=str(bad),
                       ca=c.ca_path)
        with pytest.raises(AuthError, match="not authorized"):
            w.connect()


def test_mqtt_and_http_client_certificate_auth(tmp_path):
    from uedge_connector import pki

    with testing.running_connector(tmp_path / "c", auth="cert") as c:
        cert, key = pki.make_client_cert(str(tmp_path / "client"), c.pki, "cert-dev-1")
        m = MuranoMQTT(c.host, c.mqtts_port, None, auth="cert", cert=cert, key=key, ca=c.ca_path)
        deliver(c, m, "cert-dev-1", "by-cert")
        h = MuranoHTTP(c.host, c.https_port, None, auth="cert", cert=cert, key=key, ca=c.ca_path,
                       long_poll_ms=1000)
        deliver(c, h, "cert-dev-1", "by-cert-http")


def test_content_list_and_download_both_transports(conn, tmp_path):
    data = bytes(range(256)) * 40
    conn.upload_content("fw.bin", data, "application/octet-stream")
    m = MuranoMQTT(conn.host, conn.mqtts_port, "ct-mqtt", credentials_path=str(tmp_path / "a"), ca=conn.ca_path)
    h = MuranoHTTP(conn.host, conn.https_port, "ct-http", credentials_path=str(tmp_path / "b"), ca=conn.ca_path)
    for dev in (m, h):
        dev.connect()
        items = {i["name"]: i for i in dev.content_list()}
        assert items["fw.bin"]["length"] == len(data)
        assert items["fw.bin"]["mime"] == "application/octet-stream"
        chunks = []
        assert dev.content_get("fw.bin", chunks.append) == len(data)
        assert b"".join(chunks) == data
        dev.close()
