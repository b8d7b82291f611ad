"""The daemon's wait leaves acks and ping answers for its next pass, and still
wakes at once for every update (uedge_host.transport.wake_bytes with
SO_RCVLOWAT), against the local connector and against servers that send a
packet, or a TLS record, in pieces."""

import os
import select
import socket
import ssl
import sys
import threading
import time

import pytest
from mqtt_helpers import FakeServer, pump, read_packet

from peers.mosquitto import make_pki
from uedge.transport import net
from uedge.transport.mqtt_client import MQTTClient
from uedge.transport.murano_mqtt import MuranoMQTT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "host"))

from uedge_host import tls  # noqa: E402
from uedge_host.transport import wait_readable, wake_bytes  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_RCVLOWAT") or not sys.platform.startswith("linux"),
                                reason="SO_RCVLOWAT on select() is Linux behaviour")


@pytest.fixture
def lean():
    tls.install()
    yield
    net.set_tls(None)


def readable(sk, low, timeout):
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, low)
    try:
        return bool(select.select([sk], [], [], timeout)[0])
    finally:
        sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)


@pytest.mark.parametrize("scheme", ["mqtts", "mqtt"])
def test_acks_and_ping_answers_wait_updates_wake(conn, tmp_path, lean, scheme):
    dev = "quiet-" + scheme
    m = MuranoMQTT(conn.host, conn.mqtts_port if scheme == "mqtts" else conn.mqtt_port, dev, auth="token",
                   credentials_path=str(tmp_path / "token"), ca=conn.ca_path, tls=scheme == "mqtts",
                   server_hostname="localhost")
    acks, updates = [], []
    m.on_ack = acks.append
    m.on_update = lambda a, v, ts: updates.append((a, v))
    m.connect()
    mid = m.write("data_in", '{"001":1}')
    assert pump(m, lambda: acks == [mid])  # also reads what came after the handshake
    sk = m.sockets()[0]
    low = wake_bytes(m, scheme, [sk])
    assert low == (45 if scheme == "mqtts" else 24)

    mid = m.write("data_in", '{"001":2}')
    assert readable(sk, 1, 5)  # the PUBACK is there ...
    assert not readable(sk, low, 0.3)  # ... and does not end the wait
    conn.set_resource(dev, "data_out", '{"002":1}')
    assert readable(sk, low, 5)  # an update does, with the ack still unread
    assert pump(m, lambda: acks[-1:] == [mid] and updates == [("data_out", '{"002":1}')])

    c = m._client
    c.ping()
    assert readable(sk, 1, 5)
    assert not readable(sk, low, 0.3)  # PINGRESP
    assert c.ping_outstanding()
    m.poll()
    assert not c.ping_outstanding()
    assert m.pending() == 0
    m.close()


def _publish(topic, payload):
    body = len(topic).to_bytes(2, "big") + topic + payload
    return bytes((0x30, len(body))) + body


def test_a_packet_in_pieces_ends_the_wait_on_any_byte():
    pub = _publish(b"$resource/data_out/1733000000000000", b'{"002":1}')
    go = threading.Event()

    def handler(srv, c):
        read_packet(c)  # CONNECT
        c.sendall(b"\x20\x02\x00\x00")
        c.sendall(pub[:5])
        go.wait(5)
        c.sendall(pub[5:])
        time.sleep(1)

    srv = FakeServer(handler)
    try:
        got = []
        c = MQTTClient("", "127.0.0.1", srv.port)
        c.set_callback(lambda t, msg: got.append(msg))
        c.connect()
        assert pump(c, c.receiving)
        assert wake_bytes(c, "mqtt", [c.sock]) == 1
        go.set()
        assert pump(c, lambda: got == [b'{"002":1}'])
        assert not c.receiving()
        assert wake_bytes(c, "mqtt", [c.sock]) == 24
        c.close()
    finally:
        srv.close()


def test_a_tls_record_in_pieces_ends_the_wait_on_any_byte(tmp_path, lean):
    pki = make_pki(str(tmp_path / "pki"))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    pub = _publish(b"$resource/data_out/1733000000000000", b'{"002":1}')
    go = threading.Event()

    def handler(srv, c):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        s = sctx.wrap_bio(inc, out, server_side=True)

        def feed():
            data = c.recv(65536)
            if not data:
                raise EOFError
            inc.write(data)

        while True:
            try:
                s.do_handshake()
                break
            except ssl.SSLWantReadError:
                c.sendall(out.read())
                feed()
        c.sendall(out.read())
        while True:  # CONNECT
            try:
                if s.read(4096):
                    break
            except ssl.SSLWantReadError:
                feed()
        s.write(b"\x20\x02\x00\x00")
        c.sendall(out.read())
        s.write(pub)  # one record: the first 10 bytes now, the rest when the test says
        rec = out.read()
        c.sendall(rec[:10])
        go.wait(5)
        c.sendall(rec[10:])
        time.sleep(1)

    srv = FakeServer(handler)
    try:
        got = []
        c = MQTTClient("", "localhost", srv.port, ssl=True, ssl_params={"ca": pki["ca_cert"]})
        c.set_callback(lambda t, msg: got.append(msg))
        c.connect()
        assert isinstance(c.sock, tls.TLSSocket)
        assert pump(c, lambda: c.sock.partial)
        assert not c.receiving()  # nothing of the packet decrypted yet
        assert wake_bytes(c, "mqtts", [c.sock]) == 1
        go.set()
        assert pump(c, lambda: got == [b'{"002":1}'])
        assert not c.sock.partial
        assert wake_bytes(c, "mqtts", [c.sock]) == 45
        c.close()
    finally:
        srv.close()


def _daemon_loop(link, scheme, seconds, until):
    """What the daemon does between passes: wait (an ack alone does not end
    it), then poll. -> True once until() holds."""
    end = time.time() + seconds
    while time.time() < end:
        socks = link.sockets() if hasattr(link, "sockets") else [link.sock]
        if socks:
            wait_readable(socks, 100, wake_bytes(link, scheme, socks))
        link.poll()
        if until():
            return True
    return False


def test_unacknowledged_publish_is_resent_and_its_ack_read_on_a_later_pass():
    seen = []

    def handler(srv, c):
        read_packet(c)  # CONNECT
        c.sendall(b"\x20\x02\x00\x00")
        h, body = read_packet(c)  # the first copy goes unanswered
        seen.append((h, body))
        h, body = read_packet(c)
        seen.append((h, body))
        tlen = (body[0] << 8) | body[1]
        c.sendall(b"\x40\x02" + body[2 + tlen:4 + tlen])  # PUBACK of the retransmission
        time.sleep(2)

    srv = FakeServer(handler)
    try:
        c = MQTTClient("", "127.0.0.1", srv.port, retry_ms=300)
        c.connect()
        acks = []
        c.on_puback = acks.append
        pid = c.publish(b"$resource.batch", b"[]", qos=1)
        assert _daemon_loop(c, "mqtt", 5, lambda: acks == [pid])
        assert [h for h, _b in seen] == [0x32, 0x3A]  # QoS 1, then QoS 1 + DUP
        assert seen[0][1] == seen[1][1]  # same packet id and payload
        assert c.pending() == 0
        c.close()
    finally:
        srv.close()


def test_keepalive_pings_answered_while_acks_wait(conn, tmp_path, lean):
    dev = "quiet-ka"
    m = MuranoMQTT(conn.host, conn.mqtts_port, dev, auth="token", credentials_path=str(tmp_path / "token"),
                   ca=conn.ca_path, server_hostname="localhost", keepalive=1)
    m.connect()
    c = m._client
    pings = []
    ping = c.ping
    c.ping = lambda: (pings.append(1), ping())[1]
    acks = []
    m.on_ack = acks.append
    mid = m.write("data_in", '{"001":1}')
    assert _daemon_loop(m, "mqtts", 3.5, lambda: len(pings) >= 4 and not c.ping_outstanding())
    assert m.connected and acks == [mid]
    m.close()


def test_a_quiet_pass_leaves_acks_for_the_next_read(conn, tmp_path, lean):
    # BackgroundConnect.quiet(): after a wait that ran out, a poll less than
    # QUIET_READ_MS after the last read leaves the acks waiting; the next one
    # (or one after quiet(False), as the status step asks) reads them.
    from uedge.compat import FakeClock
    from uedge_host.transport import QUIET_READ_MS, BackgroundConnect

    clock = FakeClock()
    m = MuranoMQTT(conn.host, conn.mqtts_port, "quiet-bg", auth="token", credentials_path=str(tmp_path / "token"),
                   ca=conn.ca_path, server_hostname="localhost", clock=clock)
    m.connect()
    t = BackgroundConnect(m)
    acks = []
    t.on_ack = acks.append
    t.poll(clock.now_ms())  # a read: what came after the handshake
    mid = m.write("data_in", '{"001":1}')
    sk = m.sockets()[0]
    assert select.select([sk], [], [], 5)[0]  # the PUBACK is in the socket
    clock.advance(QUIET_READ_MS - 50)
    t.quiet()
    t.poll(clock.now_ms())
    assert acks == [] and m.pending() == 1  # left for the next pass
    clock.advance(50)
    t.quiet()
    t.poll(clock.now_ms())
    assert acks == [mid]  # the last read is QUIET_READ_MS old: read
    mid = m.write("data_in", '{"001":2}')
    assert select.select([sk], [], [], 5)[0]
    t.quiet()
    t.quiet(False)
    t.poll(clock.now_ms())
    assert acks[-1] == mid
    t.close()
