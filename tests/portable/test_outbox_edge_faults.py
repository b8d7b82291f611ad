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


def _asked_again_after_the_pause(e, clock, calls):
    """Polled every 100 ms, the failing part is not run again within the
    1 s pause (FAIL_BACKOFF_MS), and is at its end."""
    for _ in range(9):
        clock.advance(100)
        e.poll(clock.now_ms())
    assert len(calls) == 1
    clock.advance(100)
    e.poll(clock.now_ms())
    assert len(calls) == 2


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


def test_scheduler_failure_backs_off_then_sampling_resumes():
    # a MemoryError while sampling (a fragmented board heap) must not turn the
    # loop into a tight retry: sampling pauses, the error is logged once
    box = MemoryOutbox()
    clock, link, log, e = _edge(box)
    _run(e, clock, 2)
    before = e.reports
    sched = e.scheduler
    real = sched.poll
    calls = []

    def failing(now):
        calls.append(now)
        raise MemoryError("memory allocation failed, allocating 184 bytes")

    sched.poll = failing
    now = clock.now_ms()
    e.poll(now)
    # the overdue channel no longer pulls the wake to now: the pause counts
    assert e.next_wake_ms(now, 5000) == now + 1000
    assert e.next_wake_ms(now, 50) == now + 50
    assert "scheduler: MemoryError" in e.last_error
    _asked_again_after_the_pause(e, clock, calls)
    assert len([m for m in log.errors if "allocating 184" in m]) == 1
    sched.poll = real
    clock.advance(1000)
    _run(e, clock, 4)
    assert e.reports > before


def test_failing_replay_step_backs_off():
    # a replay that raises outside the queue calls (MemoryError while building
    # the batch) pauses the steps instead of being retried at once
    box = MemoryOutbox()
    clock, link, log, e = _edge(box)
    _run(e, clock, 6)  # offline: reports queue
    assert len(box) >= 2
    link.connected = True
    e._on_state(True, "up")
    calls = []

    def failing(now, force=False):
        calls.append(now)
        raise MemoryError("memory allocation failed, allocating 136 bytes")

    e._replay_step = failing
    e._steps = (e._flush_errors, e._gather_step, e._replay_step, e._check_timeouts)
    now = clock.now_ms()
    e.poll(now)
    assert len(calls) == 1 and "MemoryError" in e.last_error
    assert e.next_wake_ms(now, 5000) == now + 1000
    _asked_again_after_the_pause(e, clock, calls)


class _ShortBox(MemoryOutbox):
    """A queue whose peek runs out of memory above `room` records."""

    def __init__(self, room):
        MemoryOutbox.__init__(self)
        self.room = room
        self.asked = []

    def peek(self, max_items=100, max_bytes=0):
        self.asked.append(max_items)
        if max_items > self.room:
            raise MemoryError("memory allocation failed, allocating 154 bytes")
        return MemoryOutbox.peek(self, max_items, max_bytes)


def test_replay_short_of_memory_goes_on_in_smaller_batches():
    box = _ShortBox(2)
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, box, Store(), Log(), batch_items=8)
    _run(e, clock, 12)  # offline: 6 reports queue
    assert len(box) == 6
    link.connected = True
    e._on_state(True, "up")
    _run(e, clock, 40)
    assert len(box) == 0  # drained in batches of 2
    assert box.asked == [8, 4, 2, 2, 2]  # halved after each MemoryError, then no larger
    replays = [entries for _m, entries in link.sent if "data_in" in entries[0][1]]
    assert replays and max(len(r) for r in replays) <= 2
    assert e.queue_errors == 2 and "MemoryError" in e.last_error
    # once drained, the next outage replays in full batches again
    box.room = 100
    link.connected = False
    e._on_state(False, "down")
    _run(e, clock, 6)
    del box.asked[:]
    link.connected = True
    e._on_state(True, "up")
    _run(e, clock, 4)
    assert box.asked[0] == 8 and len(box) == 0
