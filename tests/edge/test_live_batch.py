"""Live batches over mqtts against the seed-strict connector: reports 100 ms
apart share a $resource.batch message (the default live_batch_ms), and the
connector stores every sample once at its own sampling time, as with
--live-batch-ms 0."""

import pytest

from edge_helpers import Uedge, make_config, wait_for
from uedge_connector.testing import running_connector


@pytest.mark.parametrize("extra", [(), ("--live-batch-ms", "0")], ids=["batched", "alone"])
def test_every_sample_stored_once_at_its_own_time(tmp_path, extra):
    cfg = make_config(n=2, rate_ms=100, control=False)
    with running_connector(tmp_path) as conn, Uedge(tmp_path, conn, "lb-1", cfg, scheme="mqtts",
                                                    extra=extra) as u:
        pts = wait_for(lambda: (lambda v: v if len(v) >= 30 else None)(
            [(ts, d["001"]) for ts, d in u.data_in() if "001" in d]), what="30 points of 001")
        st = u.wait_status(lambda s: s.get("delivered", 0) >= 30, what="30 delivered")
        assert st["lost"] == 0
    vals = [v for _ts, v in pts]
    assert vals == list(range(len(vals)))  # every counter value once, in order
    ts = [t for t, _v in pts]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    # each point carries its sampling time, 100 ms apart (a late wake-up
    # moves one instant, never the grid), not the arrival time of its message
    assert all(50000 < g < 150000 for g in gaps), gaps
    assert abs(sum(gaps) / len(gaps) - 100000) < 5000
