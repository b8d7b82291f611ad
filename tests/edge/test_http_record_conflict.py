"""MuranoHTTP against the strict connector: a record answered 409 keeps the
rest of the batch (sent again without the conflicting points) and reports
the conflicting timestamps, as murano-client's get_conflict_timestamps reads them."""

import time

from uedge.compat import Clock
from uedge.transport.murano_http import MuranoHTTP
from uedge_connector.testing import running_connector

S = 1767225600  # 2026-01-01T00:00:00Z


def _wait_ack(m, acks, mid, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m.poll()
        for a in acks:
            if a[0] == mid:
                return a
        time.sleep(0.01)
    raise AssertionError("no ack for %d" % mid)


def test_409_stores_the_rest_and_reports_the_conflicts(tmp_path):
    with running_connector(tmp_path) as conn:
        m = MuranoHTTP("127.0.0.1", conn.http_port, "rec-1", tls=False,
                       credentials_path=str(tmp_path / "token"), clock=Clock(), watch=("config_io",))
        acks = []
        m.on_ack = lambda mid, conflicts=None: acks.append((mid, conflicts))
        m.connect()
        mid = m.record([(S * 1000000 + 250000, {"data_in": '{"001":1}'})])
        assert _wait_ack(m, acks, mid) == (mid, None)
        # S again (a retry with the same content) and two new seconds
        mid = m.record([(S * 1000000 + 250000, {"data_in": '{"001":1}'}),
                        (S * 1000000 + 1000000, {"data_in": '{"001":2}'}),
                        (S * 1000000 + 2500000, {"data_in": '{"001":3}'})])
        assert _wait_ack(m, acks, mid) == (mid, [S])
        hist = conn.history("rec-1", "data_in", source="device")
        assert [(ts // 1000000, v) for ts, v in hist] == [
            (S, '{"001":1}'), (S + 1, '{"001":2}'), (S + 2, '{"001":3}')]
        # every point of a request conflicting: acknowledged, all reported
        mid = m.record([(S * 1000000, {"data_in": '{"001":9}'}), ((S + 1) * 1000000, {"data_in": '{"001":9}'})])
        assert _wait_ack(m, acks, mid) == (mid, [S, S + 1])
        assert len(conn.history("rec-1", "data_in", source="device")) == 3
        m.close()
