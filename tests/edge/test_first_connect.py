"""The reports a real `uedge go` samples during its very first connection
attempt: held in memory (like in-flight ones) and sent live once connected,
so a start against a reachable connector never opens the SQLite queue; when
that attempt fails they are in the queue at once, with their own timestamps."""

import json
import os
import socket
import sys
import time

from edge_helpers import Uedge, make_config, wait_for
from uedge_connector.testing import running_connector


def _counts(u):
    return sorted(v["001"] for _ts, v in u.data_in() if "001" in v)


def test_reachable_connector_first_reports_go_live_no_queue_file(tmp_path):
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "first-1", make_config(1, rate_ms=100, control=False),
                  scheme="mqtts").start()
        t0 = time.time()
        try:
            wait_for(lambda: len(_counts(u)) >= 20, what="20 data_in points")
            st = u.status()
            assert st["queued"] == 0 and st["lost"] == 0
            assert not os.path.exists(u.queue_path), "the queue database was opened"
            if sys.platform.startswith("linux"):
                with open("/proc/%d/maps" % u.proc.pid) as f:
                    assert "sqlite" not in f.read(), "sqlite3 was loaded"
        finally:
            u.stop()
        st = u.status()
        got = _counts(u)
        # every report from the first one on is stored: counter 0, 1, 2, ...
        assert got == list(range(st["reports"])), got[:10]
        first_ts = min(ts for ts, v in u.data_in() if v.get("001") == 0)
        assert first_ts >= int(t0 * 1e6) - 1000000  # its own sampling time, not a later one
        assert not os.path.exists(u.queue_path)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_connector_first_reports_queued(tmp_path):
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "first-2", make_config(1, rate_ms=100, control=False),
                  scheme="mqtts")
        i = u.args.index("-H")
        u.args[i + 1] = "mqtts://127.0.0.1:%d" % _free_port()  # nothing listens there
        t0 = time.time()
        u.start()
        try:
            u.wait_status(lambda s: s["queued"] >= 5, what="5 reports queued")
        finally:
            u.stop()
        st = u.status()
        rows = u.queued_rows()
        assert st["lost"] == 0 and len(rows) == st["reports"] == st["queued"]
        vals = [json.loads(p)["001"] for _ts, p in rows]
        assert vals == list(range(len(rows)))  # nothing lost, in order, from the first one
        stamps = [ts for ts, _p in rows]
        assert stamps == sorted(stamps) and stamps[0] >= int(t0 * 1e6) - 1000000
        assert stamps[-1] - stamps[0] >= (len(rows) - 2) * 100000 * 0.5  # sampling times, 100 ms apart
