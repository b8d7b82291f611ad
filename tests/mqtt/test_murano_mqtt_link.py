"""MuranoMQTT's connection handling against fake servers: lost links,
half-open connections, messages unacknowledged when the link dropped."""

import time

from mqtt_helpers import FakeServer, read_packet

from uedge.murano import MuranoMQTT


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
