"""The portable edge loop on the MicroPython unix port, against the real
connector: a connector crash, then every sample replayed from the
SegmentOutbox (the board's store-and-forward path)."""

import json
import os
import subprocess
import time

import pytest

from edge_helpers import ROOT, make_config, wait_for
from uedge_connector.testing import running_connector

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
SCRIPT = os.path.join(ROOT, "tools", "bench", "mpy_edge_bench.py")


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="MicroPython unix port not installed")
def test_micropython_edge_outage_replayed_from_segment_outbox(tmp_path):
    cfg_path = str(tmp_path / "config_io.json")
    with open(cfg_path, "w") as f:
        json.dump(make_config(n=2, rate_ms=100, control=False), f)
    with running_connector(tmp_path) as conn:
        log = open(str(tmp_path / "mpy.log"), "ab")
        proc = subprocess.Popen([MICROPYTHON, SCRIPT, "127.0.0.1", str(conn.mqtt_port), "mpy-1", cfg_path,
                                 str(tmp_path / "token"), str(tmp_path / "queue")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        try:
            def points():
                try:
                    return conn.history("mpy-1", "data_in", source="device")
                except Exception:
                    return []

            wait_for(lambda: len(points()) > 10, what="data_in from MicroPython")
            conn.kill()
            time.sleep(3)
            assert proc.poll() is None
            queued = [n for n in os.listdir(str(tmp_path / "queue")) if n.endswith(".seg")]
            assert queued  # the outage went to segment files
            conn.start()
            t_back = time.time()

            def caught_up():
                pts = points()
                return pts if pts and pts[-1][0] / 1e6 > t_back + 1 else None

            wait_for(caught_up, timeout=30, what="replay after the connector came back")
            time.sleep(1)
            counters = [json.loads(v)["001"] for _ts, v in points() if "001" in json.loads(v)]
            # in timestamp order, nothing missing across the outage
            assert counters == list(range(counters[0], counters[0] + len(counters)))
            assert len(counters) >= 50
        finally:
            proc.kill()
            proc.wait()
