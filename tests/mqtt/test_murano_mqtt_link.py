"""MuranoMQTT's connection handling against fake servers: lost links,
half-open connections, messages unacknowledged when the link dropped."""

import time

import pytest
from mqtt_helpers import FakeServer, read_packet

from uedge.transport.mqtt_client import MQTTClient
from uedge.transport.net import MQTTException
from uedge.transport.murano_mqtt import MuranoMQTT


def link(port, **kw):
    kw.setdefault("tls", False)
    kw.setdefault("backoff_base_ms", 100)
    kw.setdefault("backoff_cap_ms", 200)
    kw.setdefault("subscribe", ())
    m = MuranoMQTT("127.0.0.1", port, "dev", **kw)
    m.set_credentials("t" * 40)
    return m


def test_unacknowledged_messages_are_handed_back_not_resent():
    conns = []

    def handler(srv, conn):
        conns.append(conn)
        read_packet(conn)  # CONNECT
        conn.sendall(b"\x20\x02\x00\x00")
        if len(conns) == 1:
            srv.received.append(("first", read_packet(conn)))  # a PUBLISH, never acknowledged
            return  # the connection drops
        conn.settimeout(1.0)
        try:
            while True:
                srv.received.append(("second", read_packet(conn)))
        except Exception:
            pass

    srv = FakeServer(handler)
    try:
        m = link(srv.port)
        states = []
        m.on_state = lambda up, why: states.append(up)
        m.connect()
        m.write("data_in", '{"001":1}')
        deadline = time.time() + 5
        while time.time() < deadline and not (states and states[-1] is True and len(states) >= 3):
            m.poll()
            time.sleep(0.01)
        assert states[:3] == [True, False, True]
        t_end = time.time() + 1.2
        while time.time() < t_end:
            m.poll()
            time.sleep(0.01)
        second = [p for tag, p in srv.received if tag == "second"]
        # the old message is the owner's to re-send (the Edge re-queues it): not sent again here
        assert not [p for p in second if p[0] & 0xF0 == 0x30], second
        assert m.pending() == 0
        m.close()
    finally:
        srv.close()


def silent_after_connack(answer_pings=False):
    """A server that accepts, then reads everything and answers nothing
    (a half-open connection seen from the client) - or only PINGREQs."""

    def handler(srv, conn):
        read_packet(conn)
        conn.sendall(b"\x20\x02\x00\x00")
        conn.settimeout(10)
        try:
            while not srv.stop:
                hdr, _body = read_packet(conn)
                srv.received.append(hdr)
                if answer_pings and hdr == 0xC0:
                    conn.sendall(b"\xd0\x00")
        except Exception:
            pass

    return handler


def test_half_open_connection_is_detected_while_publishing():
    srv = FakeServer(silent_after_connack())
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, keepalive=2, retry_ms=30000)
        c.connect()
        t0 = time.time()
        with pytest.raises(MQTTException, match="no PINGRESP"):
            while time.time() - t0 < 10:
                c.publish(b"t", b"data")  # steady traffic out, nothing comes back
                c.poll()
                time.sleep(0.05)
        assert 0xC0 in srv.received  # it did ask
        assert not c.connected
    finally:
        srv.close()


def test_overdue_puback_drops_the_link():
    srv = FakeServer(silent_after_connack(answer_pings=True))
    try:
        c = MQTTClient("x", "127.0.0.1", srv.port, keepalive=30, retry_ms=400)
        c.connect()
        c.publish(b"t", b"data", qos=1)
        t0 = time.time()
        with pytest.raises(MQTTException, match="no PUBACK"):
            while time.time() - t0 < 5:
                c.poll()
                time.sleep(0.02)
        assert not c.connected
    finally:
        srv.close()


def test_murano_link_reports_a_half_open_connection():
    srv = FakeServer(silent_after_connack())
    try:
        m = link(srv.port, keepalive=2)
        states = []
        m.on_state = lambda up, why: states.append((up, why))
        m.connect()
        t0 = time.time()
        while time.time() - t0 < 10 and len(states) < 2:
            if m.connected:
                m._client.publish(b"$resource/data_in", b'{"001":1}')  # steady traffic out
            m.poll()
            time.sleep(0.05)
        assert states[0][0] is True and states[1][0] is False
        assert "no PINGRESP" in states[1][1]
        m.close()
    finally:
        srv.close()


def test_server_that_accepts_then_kicks_gets_a_growing_backoff():
    from uedge.compat import FakeClock

    def kick(srv, conn):
        read_packet(conn)
        conn.sendall(b"\x20\x02\x00\x00")
        srv.received.append("connect")
        # and the connection closes

    srv = FakeServer(kick)
    try:
        clock = FakeClock()
        m = link(srv.port, clock=clock, backoff_base_ms=1000, backoff_cap_ms=60000)
        m.connect()
        for _ in range(300):  # 30 s of the link's time
            m.poll(clock.now_ms())
            time.sleep(0.002)
            clock.advance(100)
        # 1, 2, 4, 8, 8 ... s apart (jittered to half of that at least; no refusal,
        # so capped at 8 s): a handful, not one every second
        assert 3 <= len(srv.received) <= 10, srv.received
        assert m.backoff.failures >= 3
    finally:
        srv.close()


def test_backoff_starts_again_from_the_base_once_the_link_was_stable():
    from uedge.compat import FakeClock

    def stay(srv, conn):
        read_packet(conn)
        conn.sendall(b"\x20\x02\x00\x00")
        conn.settimeout(5)
        try:
            while not srv.stop:
                hdr, _b = read_packet(conn)
                if hdr == 0xC0:
                    conn.sendall(b"\xd0\x00")
        except Exception:
            pass

    srv = FakeServer(stay)
    try:
        clock = FakeClock()
        m = link(srv.port, clock=clock, keepalive=0)
        m.backoff.failures = 4  # earlier failures
        m.connect()
        m.poll(clock.now_ms())
        assert m.backoff.failures == 4
        clock.advance(61000)
        m.poll(clock.now_ms())
        assert m.backoff.failures == 0
        m.close()
    finally:
        srv.close()


def test_unencodable_host_name_is_a_link_error_not_a_crash():
    m = MuranoMQTT("a" * 70 + ".example", 1883, "dev", tls=False)
    m.set_credentials("t" * 40)
    states = []
    m.on_state = lambda up, why: states.append((up, why))
    m.poll(0)  # a reconnect attempt: must not raise
    assert states and states[0][0] is False
    assert m.last_error
    from uedge.transport.murano_http import MuranoHTTP

    h = MuranoHTTP("a" * 70 + ".example", 80, "dev", tls=False)
    h.set_credentials("t" * 40)
    h.poll(0)
    assert h.last_error and not h.connected
