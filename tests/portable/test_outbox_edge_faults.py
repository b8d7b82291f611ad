# The edge loop keeps running when the outbox fails (disk full, database locked).
from uedge.outbox.memory import MemoryOutbox

from edge_rig import Link, Log, Store, run, start_edge


class _FullBox(MemoryOutbox):
    def __init__(self):
        MemoryOutbox.__init__(self)
        self.fail_put = True
        self.fail_peek = False
        self.fail_ack = False

    def put(self, ts_us, payload):
        if self.fail_put:
            raise OSError(28, "No space left on device")
        return MemoryOutbox.put(self, ts_us, payload)

    def peek(self, max_items=100, max_bytes=0):
        if self.fail_peek:
            raise OSError(5, "I/O error")
        return MemoryOutbox.peek(self, max_items, max_bytes)

    def ack(self, keys):
        if self.fail_ack:
            raise RuntimeError("database is locked")
        return MemoryOutbox.ack(self, keys)


def _edge(box):
    link = Link()
    log = Log()
    clock, e = start_edge(link, box, Store(), log)
    return clock, link, log, e


def _run(e, clock, n):
    run(e, clock, n, 500)  # poll never raises


def test_put_failure_counts_reports_lost_and_loop_goes_on():
    box = _FullBox()
    clock, link, log, e = _edge(box)
    _run(e, clock, 10)
    assert e.reports == 5
    assert e.lost == 5 and e.queued == 0
    assert e.queue_errors == 5
    assert "No space left" in e.last_error
    st = e.status()
    assert st["lost"] == 5 and st["queue_errors"] == 5
    # one log line for the repeated failure, not one per report
    assert len([m for m in log.errors if "No space" in m]) == 1
    # the disk has room again: reports queue
    box.fail_put = False
    _run(e, clock, 4)
    assert e.queued == 2 and len(box) == 2


def test_peek_and_ack_failures_keep_the_reports_queued():
    box = _FullBox()
    box.fail_put = False
    clock, link, log, e = _edge(box)
    _run(e, clock, 6)
    assert len(box) == 3
    box.fail_peek = True
    link.connected = True
    link.on_state(True, "up")
    _run(e, clock, 4)
    assert len(box) == 3 + 0  # live reports go out, the queue stays
    assert "I/O error" in e.last_error
    box.fail_peek = False
    box.fail_ack = True
    _run(e, clock, 6)
    replays = [m for m, entries in link.sent if len(entries) == 3]
    assert replays
    link.on_ack(replays[0])  # the ack cannot delete them: still queued, loop alive
    assert len(box) == 3
    assert "database is locked" in e.last_error
    box.fail_ack = False
    _run(e, clock, 6)
    for m, _entries in list(link.sent):
        link.on_ack(m)
    assert len(box) == 0
