"""Store-and-forward queue for reports that could not be delivered yet.

Every queued item is one encoded data_in report with the epoch timestamp
(microseconds) of the instant it was sampled, so a replay after an outage
lands in history at the right time.

Interface shared by every outbox (MemoryOutbox here, SegmentOutbox in
segment.py, the SQLite one on gateways):

    put(ts_us, payload) -> bool     False when the item was refused (full, "latest")
    peek(max_items, max_bytes)      oldest first: [(key, ts_us, payload), ...]
    ack(keys)                       delivered: forget these items
    len(outbox)                     items waiting
    dropped, corrupted, last_error  counters for status and logs
    strategy                        "oldest" (drop oldest to make room) or
                                    "latest" (refuse new items when full)
    cap_items, cap_bytes            bounds (0 = unbounded)

An item stays queued until ack(): delivery is at least once.
"""

STRATEGIES = ("oldest", "latest")


class OutboxError(Exception):
    pass


class Outbox:
    def __init__(self, cap_items=0, cap_bytes=0, strategy="oldest"):
        if strategy not in STRATEGIES:
            raise OutboxError("queue strategy must be one of oldest, latest, got %r" % (strategy,))
        self.cap_items = int(cap_items or 0)
        self.cap_bytes = int(cap_bytes or 0)
        self.strategy = strategy
        self.dropped = 0  # items lost to the size cap
        self.corrupted = 0  # unreadable records skipped
        self.last_error = None

    def stats(self):
        return {
            "depth": len(self),
            "bytes": self.nbytes(),
            "dropped": self.dropped,
            "corrupted": self.corrupted,
            "strategy": self.strategy,
            "cap_items": self.cap_items,
            "cap_bytes": self.cap_bytes,
            "last_error": self.last_error,
        }

    def nbytes(self):
        return 0

    def close(self):
        pass
