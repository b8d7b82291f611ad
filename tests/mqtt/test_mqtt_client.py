"""uedge.transport.mqtt_client.MQTTClient against a real mosquitto, a paho peer, and fake servers."""

import os
import ssl
import time

import pytest
from mqtt_helpers import FakeServer, PahoPeer, oversized_publish_handler, pump, read_packet

from peers.mosquitto import make_pki, running_mosquitto
from uedge.transport.mqtt_client import MQTTClient
from uedge.transport.net import MQTTAuthError, MQTTException


def test_publish_subscribe_qos0_and_qos1(broker, peer):
    c = MQTTClient("uedge-pubsub", broker.host, broker.port, keepalive=30)
    assert c.connect() is False
    got, acks = [], []
    c.set_callback(lambda t, m: got.append((t, m)))
    c.on_puback = acks.append
    assert c.subscribe("dev/in/#") == 0
    c.publish("dev/out/q0", "zero")
    pid = c.publish(b"dev/out/q1", b"one", qos=1)
    assert pid > 0
    assert pump(c, lambda: acks == [pid])
    assert c.pending() == 0
    assert peer.wait_for(lambda m: m[0] == "dev/out/q0" and m[1] == b"zero")
    assert peer.wait_for(lambda m: m[0] == "dev/out/q1" and m[1] == b"one")
    peer.publish("dev/in/x", b"from-peer", qos=1)
    assert pump(c, lambda: (b"dev/in/x", b"from-peer") in got)
    c.disconnect()
    assert not c.connected


def test_large_payload_and_many_qos1_in_flight(broker, peer):
    c = MQTTClient("uedge-big", broker.host, broker.port, max_inflight=8)
    c.connect()
    acks = []
    c.on_puback = acks.append
    big = os.urandom(20000)
    pids = [c.publish("dev/big", big, qos=1)]
    for i in range(7):
        pids.append(c.publish("dev/n", str(i), qos=1))
    with pytest.raises(MQTTException, match="unacknowledged"):
        c.publish("dev/n", "overflow", qos=1)
    assert pump(c, lambda: sorted(acks) == sorted(pids))
    assert peer.wait_for(lambda m: m[0] == "dev/big" and m[1] == big)
    c.disconnect()


def test_keepalive_pings_keep_the_session(broker):
    c = MQTTClient("uedge-ka", broker.host, broker.port, keepalive=1)
    c.connect()
    deadline = time.time() + 2.6
    while time.time() < deadline:
        c.poll()
        time.sleep(0.02)
    assert c.connected
    assert c._ping_out == 0 or time.time() - deadline < 1
    c.disconnect()
    log = broker.log()
    assert "Received PINGREQ from uedge-ka" in log
    assert "Sending PINGRESP to uedge-ka" in log


def _connack_then(behaviour):
    def handler(srv, conn):
        hdr, body = read_packet(conn)
        srv.received.append((hdr, body))
        conn.sendall(b"\x20\x02\x00\x00")
        behaviour(srv, conn)
    return handler


def test_ping_without_answer_is_reported_as_lost_connection():
    def silent(srv, conn):
        try:
            while True:
                srv.received.append(read_packet(conn))
        except (EOFError, OSError):
            pass

    srv = FakeServer(_connack_then(silent))
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, keepalive=10)
        c.connect()
        t0 = c._clock.now_ms()
        c.poll(t0 + 5000)  # half the keepalive idle: PINGREQ goes out
        assert c._ping_out
        with pytest.raises(MQTTException, match="no PINGRESP"):
            c.poll(t0 + 16000)
        assert not c.connected
    finally:
        srv.close()


def test_unacknowledged_qos1_is_resent_with_dup():
    def ack_second(srv, conn):
        first = read_packet(conn)
        srv.received.append(first)
        second = read_packet(conn)
        srv.received.append(second)
        pid = second[1][2 + second[1][1]: 4 + second[1][1]]
        conn.sendall(b"\x40\x02" + pid)
        try:
            srv.received.append(read_packet(conn))
        except (EOFError, OSError):
            pass

    srv = FakeServer(_connack_then(ack_second))
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, retry_ms=2000)
        c.connect()
        acks = []
        c.on_puback = acks.append
        t0 = c._clock.now_ms()
        pid = c.publish("$resource/data_in", '{"001":1}', qos=1)
        c.poll(t0 + 100)  # too early to retry
        c.poll(t0 + 2500)  # retry with DUP
        deadline = time.time() + 5
        while not acks and time.time() < deadline:
            c.poll(t0 + 2600)
            time.sleep(0.01)
        assert acks == [pid]
        pubs = [r for r in srv.received if isinstance(r, tuple) and isinstance(r[0], int) and r[0] & 0xF0 == 0x30]
        assert pubs[0][0] == 0x32  # QoS 1, no DUP
        assert pubs[1][0] == 0x3A  # QoS 1 + DUP
        assert pubs[0][1] == pubs[1][1]  # same packet id and payload
        c.disconnect()
    finally:
        srv.close()


@pytest.mark.parametrize(
    "reply, match",
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "expected CONNACK"),
        (b"\x20\x02\x00\x00\x00\x05hello", "unexpected packet type"),
        (b"\x20\xff\xff\xff\xff\x7f", "malformed remaining length"),
        (b"\x20\x02\x00\x00\x90\x80\x80\x80\x01", "exceeds max_packet"),
        (b"\x20\x03\x00\x00\x00", "CONNACK with length 3"),
        (b"\x20\x02\x00\x03", "server unavailable"),
        (b"\x20\x02", "no CONNACK"),
        (b"", "closed by server"),
    ],
)
def test_garbage_from_server_is_a_clear_error(reply, match):
    def handler(srv, conn):
        read_packet(conn)
        conn.sendall(reply)
        if reply != b"":
            time.sleep(1.5)

    srv = FakeServer(handler)
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, timeout_ms=1000)
        t = time.time()
        with pytest.raises(MQTTException, match=match):
            c.connect()
            # errors after CONNACK surface from poll()
            deadline = time.time() + 3
            while time.time() < deadline:
                c.poll()
                time.sleep(0.01)
        assert time.time() - t < 5
        assert c.sock is None
    finally:
        srv.close()


def test_oversized_publish_from_server_is_skipped_and_acknowledged():
    srv = FakeServer(oversized_publish_handler)
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, max_packet=32768)
        got, big = [], []
        c.set_callback(lambda t, m: got.append((t, m)))
        c.on_oversize = lambda t, n: big.append((t, n))
        c.connect()
        assert pump(c, lambda: got, 5)
        assert big == [(b"$resource/config_io/1700000000000000", 1 << 20)]
        assert got == [(b"t/s", b"small")]
        assert c.connected
        assert pump(c, lambda: srv.received, 3)
        assert srv.received[0] == (0x40, b"\x00\x07")
        c.disconnect()
    finally:
        srv.close()


def test_wrong_password_is_not_authorized(tmp_path):
    with running_mosquitto(tmp_path / "m", users={"dev1": "right-password-123456789"}) as b:
        c = MQTTClient("", b.host, b.port, user="dev1", password="wrong-password-xxxxxxxxx")
        with pytest.raises(MQTTAuthError, match="not authorized"):
            c.connect()
        assert "wrong-password" not in repr(c.__dict__.get("sock"))
        ok = MQTTClient("", b.host, b.port, user="dev1", password="right-password-123456789")
        ok.connect()
        ok.disconnect()


def test_tls_verifies_ca_and_hostname(broker, tmp_path):
    for host in ("localhost", "127.0.0.1"):
        c = MQTTClient("", host, broker.tls_port, ssl=True, ssl_params={"ca": broker.ca_path})
        c.connect()
        assert c.sock.server_hostname == host  # SNI
        c.publish("t", "x")
        c.disconnect()
    other = make_pki(str(tmp_path / "other-ca"))
    bad = MQTTClient("", "localhost", broker.tls_port, ssl=True, ssl_params={"ca": other["ca_cert"]})
    with pytest.raises(ssl.SSLCertVerificationError):
        bad.connect()
    wrong_name = MQTTClient("", "127.0.0.1", broker.tls_port, ssl=True,
                            ssl_params={"ca": broker.ca_path, "server_hostname": "wrong.example"})
    with pytest.raises(ssl.SSLCertVerificationError, match="wrong.example|match"):
        wrong_name.connect()


def test_a_closed_tls_socket_is_not_kept_until_the_next_connect(broker):
    """After close() nothing in the client refers to the TLS socket: on a
    board its context and certificate chain go back to the heap before the
    reconnect's handshake needs it."""
    import gc
    import weakref

    c = MQTTClient("", "localhost", broker.tls_port, ssl=True, ssl_params={"ca": broker.ca_path})
    for close in (c.disconnect, c.close):
        c.connect()
        c.publish("t", "x")
        ref = weakref.ref(c.sock)
        close()
        gc.collect()
        assert ref() is None, "the closed TLS socket is still referenced"
        assert c._read is None and c._write_fn is None


def test_a_callback_that_closes_the_client_ends_the_poll_cleanly(broker, peer):
    """A message handler may close the connection in the middle of a poll
    that has more packets waiting: the poll stops reading, and the next use
    reports "not connected" (not an error from a closed socket's read)."""
    c = MQTTClient("uedge-close-in-cb", broker.host, broker.port, keepalive=30)
    c.connect()
    got = []

    def on_msg(t, m):
        got.append(m)
        c.close()

    c.set_callback(on_msg)
    c.subscribe("dev/in/#")
    for i in range(3):
        peer.publish("dev/in/x", b"m%d" % i, qos=0)
    deadline = time.time() + 5
    while not got and time.time() < deadline:
        c.poll()
        time.sleep(0.05)
    assert got and got[0] == b"m0" and not c.connected
    with pytest.raises(MQTTException, match="not connected"):
        c.poll()


def test_tls_client_certificate(tmp_path):
    from peers.mosquitto import make_client_cert

    with running_mosquitto(tmp_path / "m", client_certs=True) as b:
        cert, key = make_client_cert(str(tmp_path / "client"), b.pki, "cert-device")
        c = MQTTClient("", "localhost", b.cert_port, ssl=True,
                       ssl_params={"ca": b.ca_path, "cert": cert, "key": key})
        c.connect()
        peer = PahoPeer(b.host, b.port)
        try:
            c.publish("$resource/data_in", "hello", qos=1)
            assert pump(c, lambda: c.pending() == 0)
            assert peer.wait_for(lambda m: m[0] == "$resource/data_in" and m[1] == b"hello")
        finally:
            peer.close()
            c.disconnect()
        nocert = MQTTClient("", "localhost", b.cert_port, ssl=True, ssl_params={"ca": b.ca_path})
        with pytest.raises((OSError, MQTTException)):
            nocert.connect()
            nocert.publish("t", "x")
            pump(nocert, lambda: False, 1)
