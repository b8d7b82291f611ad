"""The gateway queue before its database is open: reports held in memory for
at most HOLD_MS, then written to SQLite in order; caps and close() keep the
behaviour of the SQLite queue."""

import os
import sqlite3

from uedge_host.outbox_lazy import LazyOutbox
from uedge_host.outbox_sqlite import SqliteOutbox


class Tick:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def rows(path):
    db = sqlite3.connect(path)
    try:
        return [(ts, bytes(p).decode() if not isinstance(p, str) else p)
                for ts, p in db.execute("SELECT ts_us, payload FROM outbox ORDER BY id")]
    finally:
        db.close()


def test_delivered_within_the_hold_never_creates_the_database(tmp_path):
    path = str(tmp_path / "d.queue.db")
    clk = Tick()
    q = LazyOutbox(path, clock=clk)
    for i in range(3):
        assert q.put(1000 + i, '{"a":%d}' % i)
        clk.t += 0.1
    assert len(q) == 3 and q.held == 3 and not q.opened
    assert q.stats()["depth"] == 3 and q.nbytes() == 3 * len('{"a":0}')
    batch = q.peek(2)
    assert [(b[1], b[2]) for b in batch] == [(1000, '{"a":0}'), (1001, '{"a":1}')]
    q.ack([b[0] for b in batch])
    assert [b[1] for b in q.peek(10)] == [1002]
    q.ack([b[0] for b in q.peek(10)])
    clk.t += 5
    q.poll()
    assert len(q) == 0 and not q.opened
    q.close()
    assert not os.path.exists(path)


def test_held_reports_go_to_the_database_after_the_hold(tmp_path):
    path = str(tmp_path / "d.queue.db")
    clk = Tick()
    q = LazyOutbox(path, clock=clk, hold_ms=1000)
    q.put(1, '{"a":1}')
    clk.t += 0.5
    q.put(2, '{"a":2}')
    q.poll()
    assert not q.opened
    inflight = q.peek(1)  # a replay sent from memory, acknowledged after the move
    clk.t += 0.6
    q.poll()
    assert q.opened and q.held == 0
    assert rows(path) == [(1, '{"a":1}'), (2, '{"a":2}')]
    q.put(3, '{"a":3}')  # straight to the database now
    assert rows(path)[-1] == (3, '{"a":3}')
    q.ack([b[0] for b in inflight])
    assert rows(path) == [(2, '{"a":2}'), (3, '{"a":3}')]
    assert [b[1] for b in q.peek(10)] == [2, 3]
    q.close()


def test_a_put_after_the_hold_opens_the_database_first(tmp_path):
    path = str(tmp_path / "d.queue.db")
    clk = Tick()
    q = LazyOutbox(path, clock=clk, hold_ms=1000)
    q.put(1, "x1")
    clk.t += 2
    q.put(2, "x2")
    assert q.opened and rows(path) == [(1, "x1"), (2, "x2")]
    q.close()


def test_close_writes_the_held_reports(tmp_path):
    path = str(tmp_path / "d.queue.db")
    q = LazyOutbox(path, clock=Tick())
    q.put(7, '{"a":7}')
    q.put(8, '{"a":8}')
    q.close()
    assert rows(path) == [(7, '{"a":7}'), (8, '{"a":8}')]
    q = LazyOutbox(path, clock=Tick())  # a queue from before is opened at start
    assert q.opened and len(q) == 2 and q.held == 0
    q.close()


def test_caps_apply_as_in_the_sqlite_queue(tmp_path):
    for strategy in ("oldest", "latest"):
        lazy = LazyOutbox(str(tmp_path / ("l-%s.db" % strategy)), cap_items=3, strategy=strategy,
                          clock=Tick())
        plain = SqliteOutbox(str(tmp_path / ("s-%s.db" % strategy)), cap_items=3, strategy=strategy)
        for i in range(6):
            assert lazy.put(i, "r%d" % i) == plain.put(i, "r%d" % i), (strategy, i)
            assert len(lazy) == len(plain) and lazy.dropped == plain.dropped, (strategy, i)
        assert [b[1] for b in lazy.peek(10)] == [b[1] for b in plain.peek(10)]
        lazy.close()
        plain.close()
    q = LazyOutbox(str(tmp_path / "b.db"), cap_bytes=10, clock=Tick())
    assert q.put(1, "12345")
    assert not q.opened
    assert q.put(2, "123456")  # would pass the byte cap: the database decides (drops the oldest)
    assert q.opened and q.dropped == 1 and [b[1] for b in q.peek(10)] == [2]
    q.close()


def test_at_most_hold_items_in_memory(tmp_path):
    path = str(tmp_path / "d.queue.db")
    q = LazyOutbox(path, clock=Tick(), hold_items=4)
    for i in range(4):
        q.put(i, "r%d" % i)
    assert not q.opened
    q.put(4, "r4")
    assert q.opened and [r[0] for r in rows(path)] == [0, 1, 2, 3, 4]
    q.close()
