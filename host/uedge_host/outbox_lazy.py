"""The gateway's queue, opened when first needed.

A gateway whose connector was always reachable never queues a report, so
until the first one must wait it does not load sqlite3 or open the database
(about 1 MB of a daemon's memory). A queue file left from before (reports to
replay, counters kept across restarts) is opened at start. Same interface as
uedge.outbox (put/peek/ack/len/stats, dropped, corrupted, strategy).
"""

import os


class LazyOutbox:
    def __init__(self, path, cap_items=0, cap_bytes=0, strategy="oldest", sync="normal"):
        from uedge.outbox import STRATEGIES, OutboxError

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
        return self._ob

    @property
    def opened(self):
        return self._ob is not None

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
        return len(self._ob) if self._ob is not None else 0

    def nbytes(self):
        return self._ob.nbytes() if self._ob is not None else 0

    def put(self, ts_us, payload):
        return self._open().put(ts_us, payload)

    def put_many(self, items):
        return self._open().put_many(items)

    def peek(self, max_items=100, max_bytes=0):
        return self._ob.peek(max_items, max_bytes) if self._ob is not None else []

    def ack(self, keys):
        if self._ob is not None:
            self._ob.ack(keys)

    def stats(self):
        if self._ob is not None:
            return self._ob.stats()
        return {"depth": 0, "bytes": 0, "dropped": 0, "corrupted": 0, "strategy": self.strategy,
                "cap_items": self.cap_items, "cap_bytes": self.cap_bytes, "last_error": None}

    def close(self):
        if self._ob is not None:
            self._ob.close()
