"""Gateway-side robustness: failures of the durable queue and the links."""

import sqlite3

from uedge_host.outbox_sqlite import SqliteOutbox


def test_sqlite_locked_put_leaves_counters_unchanged(tmp_path):
    path = str(tmp_path / "q.db")
    q = SqliteOutbox(path, cap_items=2, strategy="oldest")
    q.put(1, "a")
    q.put(2, "b")
    before = (len(q), q.nbytes(), q.dropped)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    q._db.execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN IMMEDIATE")
    try:
        try:
            q.put(3, "c")  # would drop the oldest; the lock refuses the transaction
        except sqlite3.OperationalError:
            pass
        else:
            raise AssertionError("put should fail while the database is locked")
        assert (len(q), q.nbytes(), q.dropped) == before
    finally:
        other.rollback()
        other.close()
    assert q.put(3, "c")
    assert len(q) == 2 and q.dropped == 1
    rows = q.peek(10)
    assert [r[1] for r in rows] == [2, 3]
    q.close()


def test_sqlite_failed_insert_rolls_back_the_counters(tmp_path):
    q = SqliteOutbox(str(tmp_path / "q.db"), cap_items=2, strategy="oldest")
    q.put(1, "a")
    q.put(2, "b")
    real = q._db

    class _FailInsert:
        def execute(self, sql, *args):
            if sql.startswith("INSERT INTO outbox"):
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

    q._db = _FailInsert()
    try:
        q.put(3, "c")
    except sqlite3.OperationalError:
        pass
    q._db = real
    # the drop of the oldest row was rolled back along with the insert
    assert len(q) == 2 and q.dropped == 0 and q.nbytes() == 2
    assert [r[1] for r in q.peek(10)] == [1, 2]
    q.close()
