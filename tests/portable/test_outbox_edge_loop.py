# The portable edge loop with a segment outbox: offline -> queued -> replayed.
import json

from uedge.outbox.segment import SegmentOutbox

from edge_rig import Link, Store, run, start_edge
from scratch import rmtree, tmpdir


def test_edge_segment_outbox_replay():
    d = tmpdir("uedge-edge-")
    link = Link(ack_on_poll=True)
    q = SegmentOutbox(d, cap_bytes=0)
    clock, e = start_edge(link, q, Store())
    try:
        run(e, clock, 50)
        assert len(q) == 5 and not link.sent
        link.connected = True
        link.on_state(True, "up")
        run(e, clock, 30)
        assert len(q) == 0
        seen = []
        for _i, entries in link.sent:
            for ts, vals in entries:
                if "data_in" in vals:
                    seen.append((ts, json.loads(vals["data_in"]).get("001")))
        seen.sort()
        assert [v for _ts, v in seen][:8] == [0, 1, 2, 3, 4, 5, 6, 7]
    finally:
        q.close()
        rmtree(d)
