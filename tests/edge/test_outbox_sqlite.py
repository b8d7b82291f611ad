import sqlite3

from uedge_host.outbox_sqlite import SqliteOutbox


def drain(q, n=7):
    got = []
    while True:
        batch = q.peek(n)
        if not batch:
            return got
        got.extend(b[1] for b in batch)
        q.ack([b[0] for b in batch])


def test_order_ack_and_reopen(tmp_path):
    path = str(tmp_path / "q.db")
    q = SqliteOutbox(path)
    for i in range(50):
        assert q.put(i, '{"001":%d}' % i)
    batch = q.peek(10)
    assert [b[1] for b in batch] == list(range(10))
    assert batch[3][2] == '{"001":3}'
    q.ack([b[0] for b in batch])
    q.close()
    q = SqliteOutbox(path)
    assert len(q) == 40
    assert drain(q) == list(range(10, 50))
    assert len(q) == 0
    q.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_drop_oldest_items_and_bytes(tmp_path):
    q = SqliteOutbox(str(tmp_path / "q.db"), cap_items=20, strategy="oldest")
    for i in range(30):
        q.put(i, "x%d" % i)
    assert len(q) == 20 and q.dropped == 10
    assert drain(q) == list(range(10, 30))
    q.close()
    q = SqliteOutbox(str(tmp_path / "b.db"), cap_items=0, cap_bytes=100, strategy="oldest")
    for i in range(30):
        q.put(i, "0123456789")
    assert q.nbytes() <= 100 and len(q) == 10 and q.dropped == 20
    q.close()
    # dropped count persists across restarts
    q = SqliteOutbox(str(tmp_path / "b.db"), cap_items=0, cap_bytes=100)
    assert q.dropped == 20
    q.close()


def test_drop_latest(tmp_path):
    q = SqliteOutbox(str(tmp_path / "q.db"), cap_items=5, strategy="latest")
    assert [q.put(i, "v") for i in range(7)] == [True] * 5 + [False] * 2
    assert q.dropped == 2
    assert drain(q) == [0, 1, 2, 3, 4]
    q.close()


def test_corrupted_row_skipped(tmp_path):
    path = str(tmp_path / "q.db")
    q = SqliteOutbox(path)
    for i in range(10):
        q.put(i, '{"001":%d}' % i)
    q.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE outbox SET payload = X'7b2230303122' WHERE ts_us = 4")
    db.execute("UPDATE outbox SET payload = X'ff00ff' , crc = 0 WHERE ts_us = 7")
    db.commit()
    db.close()
    q = SqliteOutbox(path)
    assert drain(q, 3) == [0, 1, 2, 3, 5, 6, 8, 9]
    assert q.corrupted == 2
    assert "damaged" in q.last_error
    assert len(q) == 0
    q.close()
