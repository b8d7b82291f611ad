"""Durable outbox for gateways: one SQLite table in WAL mode.

Same interface as uedge.outbox (put/peek/ack/len/dropped/corrupted).

Durability: the database runs in WAL mode. With sync="normal" (default) a
committed put survives a crash or kill -9 of the daemon; after a power cut the
last transactions (those not yet checkpointed) may be lost, never the database.
sync="full" fsyncs every commit (survives power cuts, costs one fsync per
report); sync="off" leaves flushing to the OS.

Every row carries the CRC-32 of its payload; a row whose CRC no longer matches
(or that cannot be decoded) is skipped with an error and deleted, the rest is
replayed.
"""

import binascii
import contextlib
import logging
import os
import sqlite3

from uedge.outbox import Outbox

log = logging.getLogger("uedge.outbox")

_SYNC = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}


class SqliteOutbox(Outbox):
    def __init__(self, path, cap_items=100000, cap_bytes=0, strategy="oldest", sync="normal"):
        Outbox.__init__(self, cap_items, cap_bytes, strategy)
        if sync not in _SYNC:
            raise ValueError("queue sync must be one of off, normal, full, got %r" % (sync,))
        self.path = path
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=%s" % _SYNC[sync])
        # rows are written once and read once, in order: a small page cache
        # does (SQLite's default is 2 MB per connection)
        self._db.execute("PRAGMA cache_size=-256")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " ts_us INTEGER NOT NULL,"
            " payload BLOB NOT NULL,"
            " crc INTEGER NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)"
        )
        for key in ("dropped", "corrupted"):
            self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, 0)", (key,))
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox")
        self._count, self._bytes = row.fetchone()
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        self.dropped = meta.get("dropped", 0)
        self.corrupted = meta.get("corrupted", 0)

    def __len__(self):
        return self._count

    def nbytes(self):
        return self._bytes

    def _full(self, extra, count=None, nbytes=None):
        count = self._count if count is None else count
        nbytes = self._bytes if nbytes is None else nbytes
        if self.cap_items and count + 1 > self.cap_items:
            return True
        if self.cap_bytes and nbytes + extra > self.cap_bytes:
            return True
        return False

    @contextlib.contextmanager
    def _transaction(self):
        """BEGIN IMMEDIATE ... COMMIT around the block; ROLLBACK (and re-raise)
        when the block or the commit fails."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except Exception:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    def _count_drop(self, n):
        self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped'", (n,))

    def _drop_oldest(self, db, size, count, nbytes):
        """Inside a transaction: delete the oldest rows, enough to make room
        for size bytes -> (count, nbytes, rows dropped) after it."""
        dropped = 0
        while count and self._full(size, count, nbytes):
            need = 1
            if self.cap_items and count + 1 > self.cap_items:
                need = count + 1 - self.cap_items
            rows = db.execute(
                "SELECT id, LENGTH(payload) FROM outbox ORDER BY id LIMIT ?",
                (need + (256 if self.cap_bytes else 0),),
            ).fetchall()
            last_id = None
            n = freed = 0
            for rid, ln in rows:
                if n >= need and not (self.cap_bytes and nbytes - freed + size > self.cap_bytes):
                    break
                last_id = rid
                freed += ln
                n += 1
            if last_id is None:
                break
            db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))
            count -= n
            nbytes -= freed
            dropped += n
            self._count_drop(n)
        return count, nbytes, dropped

    def put(self, ts_us, payload):
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        size = len(data)
        # the counters change only once the transaction has committed: a
        # failed put (disk full, database locked) leaves them as they were
        count, nbytes, dropped = self._count, self._bytes, 0
        refused = None  # not queued: why ("" when the queue is full and keeps the latest)
        with self._transaction() as db:
            if self.cap_bytes and size > self.cap_bytes:
                refused = "report of %d bytes exceeds the queue cap" % size
            elif self.strategy == "latest" and self._full(size, count, nbytes):
                refused = ""
            if refused is not None:
                self._count_drop(1)
            else:
                count, nbytes, dropped = self._drop_oldest(db, size, count, nbytes)
                db.execute(
                    "INSERT INTO outbox (ts_us, payload, crc) VALUES (?, ?, ?)",
                    (int(ts_us), data, binascii.crc32(data) & 0xFFFFFFFF),
                )
        if refused is not None:
            self.dropped += 1
            if refused:
                self.last_error = refused
            return False
        self._count = count + 1
        self._bytes = nbytes + size
        self.dropped += dropped
        return True

    def put_many(self, items):
        """Queue several (ts_us, payload) at once (one transaction when room)."""
        ok = True
        for ts_us, payload in items:
            ok = self.put(ts_us, payload) and ok
        return ok

    def peek(self, max_items=100, max_bytes=0):
        out = []
        total = 0
        bad = []
        rows = self._db.execute(
            "SELECT id, ts_us, payload, crc FROM outbox ORDER BY id LIMIT ?", (int(max_items),)
        ).fetchall()
        for rid, ts, data, crc in rows:
            try:
                if isinstance(data, str):
                    data = data.encode()
                if binascii.crc32(data) & 0xFFFFFFFF != crc:
                    raise ValueError("CRC mismatch")
                text = data.decode()
            except (ValueError, UnicodeDecodeError, TypeError) as e:
                bad.append((rid, len(data) if data is not None else 0))
                self.last_error = "queue record %d is damaged (%s); skipped" % (rid, e)
                log.error("%s", self.last_error)
                continue
            n = len(data)
            if max_bytes and out and total + n > max_bytes:
                break
            total += n
            out.append((rid, ts, text))
        if bad:
            with self._transaction() as db:
                for rid, _n in bad:
                    db.execute("DELETE FROM outbox WHERE id = ?", (rid,))
                db.execute("UPDATE meta SET value = value + ? WHERE key = 'corrupted'", (len(bad),))
            self._count -= len(bad)
            self._bytes -= sum(n for _rid, n in bad)
            self.corrupted += len(bad)
            if not out:
                return self.peek(max_items, max_bytes)
        return out

    def ack(self, keys):
        if not keys:
            return
        keys = [int(k) for k in keys]
        n = 0
        freed = 0
        with self._transaction() as db:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                row = db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN (%s)"
                    % marks, chunk).fetchone()
                db.execute("DELETE FROM outbox WHERE id IN (%s)" % marks, chunk)
                n += row[0]
                freed += row[1]
        self._count -= n
        self._bytes -= freed

    def close(self):
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._db.close()
            self._db = None
