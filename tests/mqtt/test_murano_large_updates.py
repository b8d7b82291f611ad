"""Large resource values (a config_io of a few hundred channels) over both links,
and updates larger than the device's limit: reported, skipped, link kept up."""

import json

import mqtt_helpers
import pytest

from uedge.transport.link import UpdateError
from uedge.transport.murano_mqtt import MuranoMQTT
from uedge.transport.murano_http import MuranoHTTP


def big_config_io(n=250):
    chans = {}
    for i in range(n):
        chans["%03d" % i] = {
            "display_name": "Channel number %d with a longer name" % i,
            "description": "x" * 200,
            "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "precision": 2},
            "protocol_config": {"report_rate": 60000, "timeout": 180000},
        }
    return json.dumps({"last_edited": "2024-01-01T00:00:00Z", "channels": chans})


BIG = big_config_io()


def pump(m, cond, timeout=8.0):
    return mqtt_helpers.pump(m, cond, timeout)


class Seen:
    def __init__(self, link):
        self.updates = []
        self.errors = []
        self.states = []
        self.acks = []
        link.on_update = self._update
        link.on_state = lambda up, why: self.states.append((up, why))
        link.on_ack = self.acks.append

    def _update(self, alias, value, ts_us):
        if isinstance(value, UpdateError):
            self.errors.append((alias, str(value)))
        else:
            self.updates.append((alias, value))

    def got(self, alias, value):
        return (alias, value) in self.updates


def test_config_io_over_64k_mqtt(conn, tmp_path):
    assert len(BIG) > 100000
    m = MuranoMQTT(conn.host, conn.mqtts_port, "big-mq-1", credentials_path=str(tmp_path / "t"),
                   ca=conn.ca_path)
    seen = Seen(m)
    m.connect()
    conn.set_resource("big-mq-1", "config_io", BIG)
    assert pump(m, lambda: seen.got("config_io", BIG), 15)
    mid = m.write("config_io", BIG)  # the acknowledgement goes back up
    assert pump(m, lambda: mid in seen.acks)
    assert not seen.errors and [s for s in seen.states if not s[0]] == []
    m.close()


def test_config_io_over_64k_https(conn, tmp_path):
    h = MuranoHTTP(conn.host, conn.https_port, "big-http-1", credentials_path=str(tmp_path / "t"),
                   ca=conn.ca_path, long_poll_ms=2000)
    h.provision()
    conn.set_resource("big-http-1", "config_io", BIG)  # read at connect
    seen = Seen(h)
    h.connect()
    assert seen.got("config_io", BIG)
    pump(h, lambda: False, 0.3)
    bigger = big_config_io(260)
    conn.set_resource("big-http-1", "config_io", bigger)  # arrives by long poll
    assert pump(h, lambda: seen.got("config_io", bigger), 15)
    mid = h.write("config_io", bigger)
    assert pump(h, lambda: mid in seen.acks)
    assert not seen.errors and [s for s in seen.states if not s[0]] == []
    h.close()


def test_oversized_update_is_reported_and_skipped_mqtt(conn, tmp_path):
    m = MuranoMQTT(conn.host, conn.mqtts_port, "big-mq-2", credentials_path=str(tmp_path / "t"),
                   ca=conn.ca_path, max_packet=8192)
    seen = Seen(m)
    m.connect()
    conn.set_resource("big-mq-2", "config_io", BIG)
    assert pump(m, lambda: seen.errors, 15)
    alias, msg = seen.errors[0]
    assert alias == "config_io"
    assert "update of" in msg and "exceeds the device's limit of 8192" in msg
    # the link stayed up and still carries updates
    conn.set_resource("big-mq-2", "data_out", '{"001":1}')
    assert pump(m, lambda: seen.got("data_out", '{"001":1}'))
    assert m.connected and [s for s in seen.states if not s[0]] == []
    assert not any(a == "config_io" for a, _v in seen.updates)
    m.close()


def test_oversized_update_is_reported_and_skipped_https(conn, tmp_path):
    h = MuranoHTTP(conn.host, conn.https_port, "big-http-2", credentials_path=str(tmp_path / "t"),
                   ca=conn.ca_path, long_poll_ms=2000, max_response=8192)
    h.provision()
    conn.set_resource("big-http-2", "config_io", BIG)
    conn.set_resource("big-http-2", "data_out", '{"001":0}')
    seen = Seen(h)
    h.connect()  # the oversized value does not stop the connection
    assert [a for a, _m in seen.errors] == ["config_io"]
    assert "exceeds the device's limit of 8192" in seen.errors[0][1]
    assert seen.got("data_out", '{"001":0}')
    pump(h, lambda: False, 0.3)
    conn.set_resource("big-http-2", "config_io", big_config_io(240))  # by long poll
    assert pump(h, lambda: len(seen.errors) == 2, 15)
    assert seen.errors[1][0] == "config_io"
    conn.set_resource("big-http-2", "data_out", '{"001":1}')
    assert pump(h, lambda: seen.got("data_out", '{"001":1}'), 10)
    mid = h.write("data_in", '{"001":1}')
    assert pump(h, lambda: mid in seen.acks)
    assert h.connected and [s for s in seen.states if not s[0]] == []
    h.close()


class _NoCache:
    def load(self, alias):
        return None

    def save(self, alias, text):
        pass


@pytest.mark.parametrize("kind", ["mqtt", "https"])
def test_edge_applies_a_config_io_over_64k(conn, tmp_path, kind):
    from uedge.compat import Clock
    from uedge.edge import Edge
    from uedge.outbox.memory import MemoryOutbox
    from uedge.pipeline.scheduler import Scheduler

    dev = "big-edge-" + kind
    if kind == "mqtt":
        link = MuranoMQTT(conn.host, conn.mqtts_port, dev, credentials_path=str(tmp_path / "t"), ca=conn.ca_path)
    else:
        link = MuranoHTTP(conn.host, conn.https_port, dev, credentials_path=str(tmp_path / "t"),
                          ca=conn.ca_path, long_poll_ms=2000)
    link.provision()
    clock = Clock()
    e = Edge(clock, Scheduler(clock), link, MemoryOutbox(), store=_NoCache())
    e.start()
    try:
        assert mqtt_helpers.pump(e, lambda: e.connected, 10)
        mqtt_helpers.pump(e, lambda: False, 0.3)
        conn.set_resource(dev, "config_io", BIG)
        assert mqtt_helpers.pump(e, lambda: e.config is not None and len(e.config.channels) == 250, 20)
        # acknowledged: the connector's config_io is what runs on the device
        assert mqtt_helpers.pump(e, lambda: conn.get_resource(dev, "config_io") == e.config_text, 10)
        assert e.connected
    finally:
        e.shutdown(flush_ms=0)
