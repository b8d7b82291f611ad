# Reports whose acknowledgement is late (ack_timeout_ms) go back to the queue
# once each, with their timestamps, and are replayed in order; a transport
# that can take a message back (cancel) is asked to; a replay batch whose ack
# is late is sent again; nothing is requeued while the acks are in time.
import json

from uedge.outbox.memory import MemoryOutbox

from edge_rig import Link, Store, run, start_edge


class CancelLink(Link):
    def __init__(self):
        Link.__init__(self)
        self.cancelled = []
        self.acking = False

    def cancel(self, msg_id):
        self.cancelled.append(msg_id)

    def poll(self, now):
        if self.acking:
            for s in self.sent:
                if s[0] > 0:
                    self.on_ack(s[0])
                    s[0] = -s[0]


def _values(entries):
    return [(ts, json.loads(v["data_in"])["001"]) for ts, v in entries if "data_in" in v]


def test_late_acks_requeue_once_in_order():
    link = CancelLink()
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(), up=True, ack_timeout_ms=5000)
    run(e, clock, 45)  # 4.5 s: reports 0..4 sent live, none acknowledged, none late yet
    first = [(m, _values(en)) for m, en in link.sent if _values(en)]  # (the first message is config_io)
    assert [v for _m, vs in first for _ts, v in vs] == [0, 1, 2, 3, 4]
    assert e.queued == 0 and link.cancelled == []
    run(e, clock, 25)  # 7 s: reports 0 and 1 are late
    assert link.cancelled[:2] == [first[0][0], first[1][0]]
    assert e.queued >= 2
    link.acking = True
    run(e, clock, 100)
    assert len(q) == 0 and not e._live and e._replay is None
    got = {}
    for _m, en in link.sent:
        for ts, v in _values(en):
            got.setdefault(v, set()).add(ts)
    # every sample reached the link with one timestamp (a retry carries the original one)
    assert sorted(got)[:10] == list(range(10))
    assert all(len(t) == 1 for t in got.values())
    assert e.lost == 0


def test_late_replay_batch_is_sent_again():
    link = CancelLink()
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(), ack_timeout_ms=5000, replay_rate=0)
    run(e, clock, 30)  # down: 3 reports queued
    assert len(q) == 3
    link.connected = True
    e._on_state(True, "up")
    run(e, clock, 2)
    batch = [m for m, en in link.sent if len(en) == 3]
    assert len(batch) == 1 and e._replay is not None
    run(e, clock, 60)  # no ack: the batch is given up and sent again, still queued meanwhile
    again = [m for m, en in link.sent if len(en) >= 3]
    assert len(again) >= 2 and batch[0] in link.cancelled
    assert len(q) >= 3
    link.acking = True
    run(e, clock, 40)
    assert len(q) == 0 and e.lost == 0


def test_acks_in_time_requeue_nothing():
    link = CancelLink()
    link.acking = True
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(), up=True, ack_timeout_ms=5000)
    run(e, clock, 200)
    assert e.queued == 0 and link.cancelled == [] and len(q) == 0
    assert e.delivered == len([m for m, en in link.sent if _values(en)]) >= 19
