"""uedge.transport.murano_mqtt.MuranoMQTT on mosquitto, with a paho-mqtt peer playing the connector."""

import json
import os
import stat
import time

import pytest
from mqtt_helpers import PahoPeer, pump

from peers.mosquitto import running_mosquitto
from uedge.compat import FakeClock
from uedge.transport.link import AuthError, MuranoError
from uedge.transport.murano_mqtt import MuranoMQTT

TOKEN = "eY4f3tyrE4Jqe3HsLGnPYf7cACKZlb0uvKVatFxX"


def answer_provision(peer, topic, payload):
    if not payload:  # the device asks; the "connector" answers with a token
        peer.answer(topic, TOKEN.encode())


def answer_content(peer, topic, payload):
    if not payload:
        peer.answer("$content", json.dumps([
            {"name": "logo.gif", "length": 16214, "mime": "image/gif", "url": "https://example.invalid/logo.gif"}
        ]).encode())


def make(broker, tmp_path, **kw):
    kw.setdefault("tls", False)
    kw.setdefault("device_id", "0001")
    kw.setdefault("credentials_path", str(tmp_path / "murano.token"))
    return MuranoMQTT(broker.host, broker.port, **kw)


def test_token_provisioning_is_persisted_0600_and_never_logged(broker, peer, tmp_path):
    peer.handlers["$provision/"] = answer_provision
    logs = []
    m = make(broker, tmp_path, log=logs.append)
    assert not m.provisioned
    m.provision()
    path = tmp_path / "murano.token"
    assert path.read_text() == TOKEN
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    req = peer.wait_for(lambda msg: msg[0] == "$provision/0001" and msg[1] == b"")
    assert req, "device did not publish an empty $provision/<id>"
    m.connect()
    assert m.connected
    assert TOKEN not in repr(m) and all(TOKEN not in line for line in logs)
    m.close()
    # a fresh instance reads the stored token and does not provision again
    m2 = make(broker, tmp_path)
    assert m2.provisioned
    m2.connect()
    m2.close()
    assert len(peer.wait_for(lambda msg: msg[0] == "$provision/0001" and msg[1] == b"")) == 1


def test_provision_without_reply_is_a_clear_error(broker, tmp_path):
    m = make(broker, tmp_path)
    with pytest.raises(MuranoError, match="no token on \\$provision/0001"):
        m.provision(timeout_ms=500)
    assert not os.path.exists(tmp_path / "murano.token")


def test_password_provisioning_sends_the_password(broker, peer, tmp_path):
    m = make(broker, tmp_path, auth="password", password="a1b2c3d4e5f6g7h8i9j0")
    m.provision()
    assert peer.wait_for(lambda msg: msg[0] == "$provision/0001" and msg[1] == b"a1b2c3d4e5f6g7h8i9j0")
    assert (tmp_path / "murano.token").read_text() == "a1b2c3d4e5f6g7h8i9j0"
    with pytest.raises(MuranoError, match="at least 20"):
        make(broker, tmp_path, auth="password", password="short")


def test_write_write_many_record_topics_and_acks(broker, peer, tmp_path):
    (tmp_path / "murano.token").write_text(TOKEN)
    m = make(broker, tmp_path)
    acks = []
    m.on_ack = acks.append
    m.connect()
    a = m.write("data_in", '{"001":73.16492}')
    b = m.write_many({"data_in": '{"001":1}', "config_io": '{"channels":{}}'})
    c = m.record([(1531111131679000, {"data_in": '{"001":73.16492}'}),
                  (1531111131689665, {"data_in": '{"001":72.73459}'})])
    assert pump(m, lambda: sorted(acks) == sorted([a, b, c]))
    single = peer.wait_for(lambda msg: msg[0] == "$resource/data_in")
    assert single[0][1] == b'{"001":73.16492}' and single[0][2] == 1
    many = peer.wait_for(lambda msg: msg[0] == "$resource/")
    assert json.loads(many[0][1]) == {"data_in": '{"001":1}', "config_io": '{"channels":{}}'}
    batch = peer.wait_for(lambda msg: msg[0] == "$resource.batch")
    assert json.loads(batch[0][1]) == [
        {"timestamp": 1531111131679000, "values": {"data_in": '{"001":73.16492}'}},
        {"timestamp": 1531111131689665, "values": {"data_in": '{"001":72.73459}'}},
    ]
    m.close()


def test_updates_from_the_connector_reach_on_update(broker, peer, tmp_path):
    (tmp_path / "murano.token").write_text(TOKEN)
    m = make(broker, tmp_path)
    got = []
    m.on_update = lambda alias, value, ts: got.append((alias, value, ts))
    m.connect()
    m.write("data_in", "echo-is-not-an-update")
    peer.publish("$resource/config_io/1633800180299724", b'{"channels":{}}')
    peer.publish("$resource/data_out/1633800180300000", b'{"002":1}')
    peer.publish("$resource/anything/1633800180300001", b"x")
    assert pump(m, lambda: len(got) == 3)
    assert got == [
        ("config_io", '{"channels":{}}', 1633800180299724),
        ("data_out", '{"002":1}', 1633800180300000),
        ("anything", "x", 1633800180300001),
    ]
    m.close()


def test_content_list(broker, peer, tmp_path):
    (tmp_path / "murano.token").write_text(TOKEN)
    peer.handlers["$content"] = answer_content
    m = make(broker, tmp_path)
    m.connect()
    items = m.content_list()
    assert items == [{"name": "logo.gif", "length": 16214, "mime": "image/gif",
                      "url": "https://example.invalid/logo.gif"}]
    m.close()


def test_broker_restart_reconnects_with_backoff_and_keeps_working(tmp_path):
    (tmp_path / "murano.token").write_text(TOKEN)
    with running_mosquitto(tmp_path / "m") as broker:
        states = []
        acks = []
        m = make(broker, tmp_path, backoff_base_ms=200, backoff_cap_ms=1000, keepalive=5)
        m.on_state = lambda up, why: states.append((up, why))
        m.on_ack = acks.append
        m.connect()
        broker.kill()
        assert pump(m, lambda: not m.connected)
        with pytest.raises(MuranoError, match="not connected"):
            m.write("data_in", "lost")
        attempts_down = m.attempts
        pump(m, lambda: False, 1.0)  # broker still down: a few spaced attempts, no tight loop
        assert 1 <= m.attempts - attempts_down <= 6
        broker.start()
        peer = PahoPeer(broker.host, broker.port)
        try:
            assert pump(m, lambda: m.connected, 10)
            mid = m.write("data_in", "after-restart")
            assert pump(m, lambda: mid in acks)
            assert peer.wait_for(lambda msg: msg[0] == "$resource/data_in" and msg[1] == b"after-restart")
        finally:
            peer.close()
        assert states[0] == (True, "connected")
        assert states[1][0] is False
        assert states[-1] == (True, "connected")
        m.close()


def test_wrong_credentials_back_off_instead_of_looping(tmp_path):
    users = {"0001": "right-password-123456789"}
    with running_mosquitto(tmp_path / "m", users=users) as broker:
        (tmp_path / "murano.token").write_text("wrong-password-123456789")
        clock = FakeClock()
        logs = []
        m = make(broker, tmp_path, auth="password", clock=clock, backoff_base_ms=1000,
                 backoff_cap_ms=60000, auth_backoff_ms=5000, log=logs.append)
        with pytest.raises(AuthError, match="not authorized"):
            m.connect()
        attempts = []
        m.on_state = lambda up, why: attempts.append((clock.now_ms(), why))
        # ten simulated minutes of polling every 100 ms
        for _ in range(6000):
            clock.advance(100)
            m.poll()
        assert all(why == "not authorized" for _, why in attempts)
        assert 5 <= len(attempts) <= 20, len(attempts)
        gaps = [b[0] - a[0] for a, b in zip(attempts, attempts[1:])]
        assert min(gaps) >= 5000
        assert max(gaps) <= 60000
        assert all("wrong-password" not in line for line in logs)
        # the right password connects
        (tmp_path / "murano.token").write_text("right-password-123456789")
        ok = make(broker, tmp_path, auth="password")
        ok.connect()
        assert ok.connected
        ok.close()



def test_garbage_server_is_a_clear_error_and_the_loop_survives(tmp_path):
    from mqtt_helpers import FakeServer, read_packet

    def handler(srv, conn):
        read_packet(conn)
        conn.sendall(b"\x20\x02\x00\x00" + b"\xf0\x00garbage")
        time.sleep(0.5)

    srv = FakeServer(handler)
    try:
        (tmp_path / "murano.token").write_text(TOKEN)
        m = MuranoMQTT("127.0.0.1", srv.port, "0001", tls=False, credentials_path=str(tmp_path / "murano.token"),
                       backoff_base_ms=200, timeout_ms=1000)
        states = []
        m.on_state = lambda up, why: states.append((up, why))
        pump(m, lambda: any(not up for up, _ in states), 5)
        down = [why for up, why in states if not up]
        assert down and "unexpected packet type 0xf0" in down[0], states
        assert not m.connected
    finally:
        srv.close()


def test_mpy_broker_restart_reconnects(tmp_path):
    import subprocess

    from mqtt_helpers import MICROPYTHON, ROOT

    (tmp_path / "murano.token").write_text(TOKEN)
    with running_mosquitto(tmp_path / "m") as broker:
        proc = subprocess.Popen(
            [MICROPYTHON, "tests/mqtt/mpy_murano_restart.py", broker.host, str(broker.port),
             str(tmp_path / "murano.token")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "READY True"
            broker.kill()
            assert proc.stdout.readline().strip() == "DOWN True"
            assert proc.stdout.readline().strip() == "SPACED True"
            broker.start()
            peer = PahoPeer(broker.host, broker.port)
            try:
                assert proc.stdout.readline().strip() == "UP True"
                out, err = proc.communicate("go\n", timeout=40)
                assert out.splitlines() == ["ACKED True"], err
                assert peer.wait_for(lambda m: m[0] == "$resource/data_in" and m[1] == b"mpy-after-restart")
            finally:
                peer.close()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
