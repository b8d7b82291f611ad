"""Store and forward under failure: real connector and uedge processes."""

import json
import sqlite3
import time

from edge_helpers import Uedge, make_config, wait_for
from uedge_connector.testing import running_connector


def _samples(u, n):
    """{channel: [(ts_us, counter)]} from the connector's data_in history."""
    out = {}
    for ts, d in u.data_in():
        for i in range(1, n + 1):
            cid = "%03d" % i
            if cid in d:
                out.setdefault(cid, []).append((ts, d[cid]))
    return out


def _drained(u):
    return u.wait_status(lambda s: s["connected"] and s["queue"]["depth"] == 0 and s["inflight"] == 0,
                         timeout=60, what="queue drained")


def _queue_offline(u, conn, live, depth):
    """Once u has delivered more than `live` reports, stop the connector and
    wait until u holds `depth` reports in its queue."""
    wait_for(lambda: len(u.data_in()) > live, what="live data")
    conn.stop()
    u.wait_status(lambda s: s["queue"]["depth"] >= depth, what="queued while offline")


def test_connector_down_20s_every_sample_kept_in_order(tmp_path):
    n = 10
    cfg = make_config(n=n, rate_ms=100, control=False)  # 10 channels at 10 Hz
    with running_connector(tmp_path) as conn, Uedge(tmp_path, conn, "chaos-1", cfg) as u:
        wait_for(lambda: len(u.data_in()) > 10, what="live data")
        conn.kill()  # a crash: whatever was in flight is lost on the connector side
        t_down = time.time()
        u.wait_status(lambda s: not s["connected"], what="disconnected")
        time.sleep(max(0.0, 20 - (time.time() - t_down)))
        st = u.status()
        assert st["queue"]["depth"] >= 100  # ~200 reports waited in the outbox
        conn.start()
        _drained(u)
        time.sleep(1.0)
        assert u.stop() == 0
        s = _samples(u, n)
        for i in range(1, n + 1):
            pts = s["%03d" % i]
            ts = [p[0] for p in pts]
            counters = [p[1] for p in pts]
            assert ts == sorted(ts)
            # in timestamp order the counters are consecutive: nothing lost,
            # nothing reordered, each sample kept once (history is keyed by ts)
            assert counters == list(range(counters[0], counters[0] + len(counters))), (
                "channel %03d has gaps: %r" % (i, [c for c in range(counters[0], counters[-1])
                                                    if c not in set(counters)][:10]))
            assert counters[0] == 0
            # sampling timestamps: ~100 ms apart, also across the outage
            gaps = [b - a for a, b in zip(ts, ts[1:])]
            assert max(gaps) < 1500000, max(gaps)
        # the outage spanned ~20 s of samples
        assert len(s["001"]) >= 210
        assert "replay" in u.log_text() or u.status()["replayed"] >= 100
        assert u.status()["replayed"] >= 150


def test_kill_9_keeps_everything_queued(tmp_path):
    cfg = make_config(n=2, rate_ms=100, control=False)
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "chaos-2", cfg).start()
        try:
            _queue_offline(u, conn, live=5, depth=20)
            u.kill()  # SIGKILL: no shutdown code runs
            queued = u.queued_rows()
            assert len(queued) >= 20
            conn.start()
            u.start()
            _drained(u)
            got = dict(conn.history("chaos-2", "data_in", source="device"))
            for ts, payload in queued:
                assert ts in got, "queued report at %d lost" % ts
                assert json.loads(got[ts]) == json.loads(payload)
        finally:
            u.stop()


def test_corrupted_queue_record_skipped_rest_replayed(tmp_path):
    cfg = make_config(n=1, rate_ms=100, control=False)
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "chaos-3", cfg).start()
        try:
            _queue_offline(u, conn, live=3, depth=15)
            assert u.stop() == 0  # SIGTERM: the queue is persisted
            rows = u.queued_rows()
            bad_ts = rows[5][0]
            db = sqlite3.connect(u.queue_path)
            db.execute("UPDATE outbox SET payload = X'7b22303031223a' WHERE ts_us = ?", (bad_ts,))
            db.commit()
            db.close()
            conn.start()
            u.start()
            st = _drained(u)
            assert st["queue"]["corrupted"] == 1
            got = dict(conn.history("chaos-3", "data_in", source="device"))
            assert bad_ts not in got
            for ts, _payload in rows:
                if ts != bad_ts:
                    assert ts in got
            assert "damaged" in u.log_text()
        finally:
            u.stop()


def _cap_run(tmp_path, conn, device, strategy):
    cfg = make_config(n=1, rate_ms=100, control=False)
    u = Uedge(tmp_path, conn, device, cfg,
              extra=["--queue-size", "20", "--queue-strategy", strategy]).start()
    try:
        wait_for(lambda: len(u.data_in()) > 3, what="live data")
        conn.stop()
        st = u.wait_status(lambda s: s["queue"]["dropped"] >= 15, what="drops reported")
        assert st["queue"]["depth"] == 20 and st["queue"]["strategy"] == strategy
        u.stop()
        rows = u.queued_rows()
        before = u.status()["queue"]["dropped"]
        conn.start()
        u.start()
        after = _drained(u)["queue"]["dropped"]
        # reports sampled by the restarted daemon before it connected may still
        # push the oldest queued ones out (a 20-report cap is tiny)
        return u, rows, after - before
    finally:
        u.stop()


def test_size_cap_drop_oldest_and_latest(tmp_path):
    with running_connector(tmp_path) as conn:
        u, rows, lost_at_restart = _cap_run(tmp_path, conn, "cap-oldest", "oldest")
        assert "dropped" in u.log_text()
        counters = [json.loads(p)["001"] for _ts, p in rows]
        # oldest dropped: the queue kept the newest 20, consecutive, up to the stop
        assert len(counters) == 20 and counters == list(range(counters[0], counters[0] + 20))
        got = dict(conn.history("cap-oldest", "data_in", source="device"))
        assert lost_at_restart < 20
        assert all(ts in got for ts, _p in rows[lost_at_restart:])

        u, rows, _lost = _cap_run(tmp_path, conn, "cap-latest", "latest")
        counters = [json.loads(p)["001"] for _ts, p in rows]
        # latest dropped: the queue kept the first 20 reports after the outage began
        assert len(counters) == 20 and counters == list(range(counters[0], counters[0] + 20))
        live = [json.loads(v)["001"] for ts, v in conn.history("cap-latest", "data_in", source="device")
                if ts < rows[0][0]]
        assert max(live) < counters[0]
        assert u.status()["queue"]["dropped"] >= 15
        got = dict(conn.history("cap-latest", "data_in", source="device"))
        assert all(ts in got for ts, _p in rows)  # with "latest" the kept ones all arrive


def test_silent_connector_does_not_stall_sampling(tmp_path):
    """A connector that accepts TCP but never answers (packets dropped further
    on): connection attempts time out in the background, sampling goes on."""
    import socket

    class _Conn:  # what Uedge needs to know of a connector
        ca_path = None

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(50)
    try:
        c = _Conn()
        c.mqtt_port = c.mqtts_port = c.http_port = c.https_port = silent.getsockname()[1]
        cfg = make_config(n=1, rate_ms=100, control=False)
        u = Uedge(tmp_path, c, "silent", cfg, extra=["--http-timeout", "2"]).start()
        try:
            u.wait_status(lambda s: s["queue"]["depth"] >= 50, timeout=30, what="sampling while connecting")
            st = u.status()
            assert not st["connected"]
        finally:
            assert u.stop() == 0
        ts = [t for t, _p in u.queued_rows()]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        assert max(gaps) < 500000, max(gaps)  # no multi-second holes while attempts hang
    finally:
        silent.close()
