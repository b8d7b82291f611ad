"""uedge_fw.app.NetGate passes what the edge loop reads of a transport through:
an HTTP board's records keep the record API's resolution (whole seconds) and
its rejections reach the edge loop."""
import os
import sys
import types

from fw_helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "firmware"))


def _app(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", types.ModuleType("machine"))
    from uedge_fw import app

    return app


class Net:
    up = False


def _edge(transport):
    from uedge.compat import FakeClock
    from uedge.edge import Edge
    from uedge.pipeline.scheduler import Scheduler

    clock = FakeClock(0)
    return Edge(clock, Scheduler(clock), transport)


def test_an_http_transport_keeps_its_record_resolution_and_rejections(monkeypatch):
    app = _app(monkeypatch)
    from uedge.transport.murano_http import MuranoHTTP

    inner = MuranoHTTP("127.0.0.1", 1, "d1", tls=False)
    edge = _edge(app.NetGate(inner, Net()))
    assert edge.record_res_us == inner.record_ts_divisor == 1000000
    assert inner.on_reject == edge._on_reject
    assert inner.on_ack == edge._on_link_ack


def test_an_mqtt_transport_has_microsecond_records_and_no_reject_callback(monkeypatch):
    app = _app(monkeypatch)
    from uedge.transport.murano_mqtt import MuranoMQTT

    inner = MuranoMQTT("127.0.0.1", 1, "d1", tls=False)
    gate = app.NetGate(inner, Net())
    assert not hasattr(gate, "on_reject")
    edge = _edge(gate)
    assert edge.record_res_us == 1
    assert inner.on_state == edge._on_state
