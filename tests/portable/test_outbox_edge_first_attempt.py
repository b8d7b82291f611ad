# Reports produced while the very first connect attempt runs in the background
# (a gateway's BackgroundConnect: transport.busy) are held in memory like
# in-flight ones, at most max_inflight, and go out live once connected, or into
# the queue at once when the attempt fails, the bound is reached or the edge
# stops. Nothing is lost and every report keeps its own timestamp.
import json

from uedge.outbox.memory import MemoryOutbox

from edge_rig import Link, Store, run, start_edge


class BusyLink(Link):
    """A link whose first connect attempt runs 'in the background' until
    attempt_ends() reports its outcome (as BackgroundConnect does)."""

    def __init__(self):
        Link.__init__(self, ack_on_poll=True)
        self.busy = True

    def attempt_ends(self, ok):
        self.busy = False
        self.connected = ok
        self.on_state(ok, "connected" if ok else "connection refused")


class CountingBox(MemoryOutbox):
    def __init__(self):
        MemoryOutbox.__init__(self)
        self.puts = 0
        self.closed = False

    def put(self, ts_us, payload):
        self.puts += 1
        return MemoryOutbox.put(self, ts_us, payload)

    def close(self):
        self.closed = True


def _counter(payload):
    return json.loads(payload).get("001")


def _sent(link):
    out = []
    for _i, entries in link.sent:
        for ts, vals in entries:
            if "data_in" in vals:
                out.append((ts, _counter(vals["data_in"])))
    return out


def _produced(clock, e, n_reports):
    """Poll until n_reports more reports were produced -> [(ts_us, counter)]."""
    got = []
    want = e.reports + n_reports
    while e.reports < want:
        before = e.reports
        ts = clock.epoch_us()
        e.poll(clock.now_ms())
        if e.reports > before:
            got.append((ts, e.reports - 1))  # the counter counts from 0, one a report
        clock.advance(100)
    return got


def test_first_attempt_ok_reports_go_live_not_queued():
    link = BusyLink()
    q = CountingBox()
    clock, e = start_edge(link, q, Store())
    made = _produced(clock, e, 4)
    assert q.puts == 0 and len(q) == 0 and not link.sent
    link.attempt_ends(True)
    run(e, clock, 15)
    assert q.puts == 0, "nothing went through the durable queue"
    sent = _sent(link)
    assert sent[:4] == made, "held reports go first, in order, with their own timestamps"
    assert [v for _ts, v in sent] == list(range(len(sent)))
    assert e.lost == 0 and e.delivered == e.reports


def test_first_attempt_fails_held_reports_queued_at_once():
    link = BusyLink()
    q = CountingBox()
    clock, e = start_edge(link, q, Store())
    made = _produced(clock, e, 3)
    assert len(q) == 0
    link.attempt_ends(False)
    e.poll(clock.now_ms())  # no report due: the failure alone moves them
    assert [(ts, _counter(p)) for _k, ts, p in q.peek(10)] == made
    # later reports queue the usual way, after them
    run(e, clock, 20)
    vals = [_counter(p) for _k, _ts, p in q.peek(100)]
    assert vals == list(range(e.reports)) and e.lost == 0
    # once connected the queue replays everything, nothing lost
    link.connected = True
    link.on_state(True, "up")
    run(e, clock, 30)
    assert len(q) == 0 and e.lost == 0
    assert sorted(v for _ts, v in _sent(link)) == list(range(e.reports))


def test_hold_bounded_by_max_inflight():
    link = BusyLink()
    q = CountingBox()
    clock, e = start_edge(link, q, Store(), max_inflight=3)
    made = _produced(clock, e, 3)
    assert len(q) == 0 and len(e._held) == 3
    made += _produced(clock, e, 1)  # the fourth: over the bound, all go to the queue
    assert e._held is None
    assert [(ts, _counter(p)) for _k, ts, p in q.peek(10)] == made
    made += _produced(clock, e, 2)  # still in the first attempt: queued, not held
    assert e._held is None and len(q) == 6
    link.attempt_ends(True)
    run(e, clock, 30)
    assert len(q) == 0 and e.lost == 0
    assert sorted(_sent(link))[:6] == made


def test_stop_during_first_attempt_queues_held_reports():
    link = BusyLink()
    q = CountingBox()
    clock, e = start_edge(link, q, Store())
    made = _produced(clock, e, 2)
    assert len(q) == 0
    e.shutdown(flush_ms=0)
    assert q.closed
    assert [(ts, _counter(p)) for _k, ts, p in q.peek(10)] == made
    assert e.lost == 0


def test_no_background_connect_queues_at_once():
    # a board's transport connects inside poll(): nothing is ever held
    link = Link()
    q = CountingBox()
    clock, e = start_edge(link, q, Store())
    assert e._held is None
    _produced(clock, e, 2)
    assert len(q) == 2
