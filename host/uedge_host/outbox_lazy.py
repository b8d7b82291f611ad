"""The gateway's queue, opened when first needed.

A gateway whose connector was always reachable never queues a report, so
until one must wait it does not load sqlite3 or open the database (about
1.8 MB of a daemon's memory). A queue file left from before (reports to
replay, counters kept across restarts) is opened at start.

Reports taken before a fresh daemon's first connection (the first second or
so of every start) would open it all the same. So, while the database is not
open, a few reports wait in memory instead: at most HOLD_MS (one second)
each, at most HOLD_ITEMS of them, never more than the queue's caps allow.
Once one has waited that long (poll()), one more does not fit, or the daemon
stops (close()), they are written to the database in order and every later
report goes straight there, as before. A daemon that connects within that
second replays them from memory and never loads SQLite. The price: a kill -9
(or power cut) within that second loses those reports, where SIGTERM keeps
them.

Same interface as uedge.outbox (put/peek/ack/len/stats, dropped, corrupted,
strategy). Keys of reports held in memory are negative; a report written to
the database keeps answering to its old key, so a replay acknowledged after
the move still deletes it.
"""

import os
import time

HOLD_MS = 1000
HOLD_ITEMS = 64


class LazyOutbox:
    def __init__(self, path, cap_items=0, cap_bytes=0, strategy="oldest", sync="normal",
                 hold_ms=HOLD_MS, hold_items=HOLD_ITEMS, clock=time.monotonic):
        from uedge.outbox.memory import STRATEGIES, OutboxError

        if strategy not in STRATEGIES:
            raise OutboxError("queue strategy must be one of oldest, latest, got %r" % (strategy,))
        if sync not in ("off", "normal", "full"):
            raise ValueError("queue sync must be one of off, normal, full, got %r" % (sync,))
        self.path = path
        self.cap_items = int(cap_items or 0)
        self.cap_bytes = int(cap_bytes or 0)
        self.strategy = strategy
        self._sync = sync
        self._ob = None
        self._hold_s = hold_ms / 1000.0
        self._hold_items = hold_items
        self._clock = clock
        self._held = []  # [key, ts_us, payload] oldest first, while the database is closed
        self._held_bytes = 0
        self._held_since = 0.0  # clock() when the oldest held report came
        self._next_key = -1
        self._moved = {}  # key of a held report -> its row id once written to the database
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        if not os.access(d, os.W_OK):
            raise OSError("queue directory %s is not writable" % d)
        if os.path.exists(path):
            self._open()

    def _open(self):
        if self._ob is None:
            from uedge_host.outbox_sqlite import SqliteOutbox

            self._ob = SqliteOutbox(self.path, cap_items=self.cap_items, cap_bytes=self.cap_bytes,
                                    strategy=self.strategy, sync=self._sync)
            self._spill()
        return self._ob

    def _spill(self):
        """Write the reports held in memory to the (open) database, oldest first."""
        held = self._held
        if not held:
            return
        self._held = []
        self._held_bytes = 0
        ob = self._ob
        for key, ts_us, payload in held:
            if ob.put(ts_us, payload):
                self._moved[key] = ob.last_id

    def _fits(self, size):
        """One more report of size bytes can wait in memory (the caps could not drop anything)."""
        n = len(self._held) + 1
        if n > self._hold_items or (self.cap_items and n > self.cap_items):
            return False
        if self.cap_bytes and self._held_bytes + size > self.cap_bytes:
            return False
        return True

    def poll(self):
        """Write the held reports to the database once the oldest has waited HOLD_MS."""
        if self._held and self._clock() - self._held_since >= self._hold_s:
            self._open()

    @property
    def opened(self):
        return self._ob is not None

    @property
    def held(self):
        """Reports waiting in memory (not yet in the database)."""
        return len(self._held)

    @property
    def dropped(self):
        return self._ob.dropped if self._ob is not None else 0

    @property
    def corrupted(self):
        return self._ob.corrupted if self._ob is not None else 0

    @property
    def last_error(self):
        return self._ob.last_error if self._ob is not None else None

    def __len__(self):
        return len(self._ob) if self._ob is not None else len(self._held)

    def nbytes(self):
        return self._ob.nbytes() if self._ob is not None else self._held_bytes

    def put(self, ts_us, payload):
        if self._ob is None:
            size = len(payload.encode()) if isinstance(payload, str) else len(payload)
            if self._fits(size) and not (self._held and self._clock() - self._held_since >= self._hold_s):
                if not self._held:
                    self._held_since = self._clock()
                self._held.append((self._next_key, ts_us, payload if isinstance(payload, str)
                                   else bytes(payload).decode()))
                self._next_key -= 1
                self._held_bytes += size
                return True
        return self._open().put(ts_us, payload)

    def put_many(self, items):
        ok = True
        for ts_us, payload in items:
            ok = self.put(ts_us, payload) and ok
        return ok

    def peek(self, max_items=100, max_bytes=0):
        if self._ob is not None:
            return self._ob.peek(max_items, max_bytes)
        out = []
        total = 0
        for item in self._held:
            if len(out) >= max_items:
                break
            n = len(item[2].encode())
            if max_bytes and out and total + n > max_bytes:
                break
            total += n
            out.append(item)
        return out

    def ack(self, keys):
        if not keys:
            return
        mem = [k for k in keys if k < 0]
        rows = [k for k in keys if k >= 0]
        if mem:
            gone = set(mem)
            if self._held:
                keep = [it for it in self._held if it[0] not in gone]
                if len(keep) != len(self._held):
                    self._held = keep
                    self._held_bytes = sum(len(it[2].encode()) for it in keep)
            for k in mem:
                rid = self._moved.pop(k, None)
                if rid is not None:
                    rows.append(rid)
        if rows and self._ob is not None:
            self._ob.ack(rows)

    def stats(self):
        if self._ob is not None:
            return self._ob.stats()
        return {"depth": len(self._held), "bytes": self._held_bytes, "dropped": 0, "corrupted": 0,
                "strategy": self.strategy, "cap_items": self.cap_items, "cap_bytes": self.cap_bytes,
                "last_error": None}

    def close(self):
        if self._held:
            self._open()
        if self._ob is not None:
            self._ob.close()
