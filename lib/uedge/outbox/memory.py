"""RAM-only outbox (the interface and the Outbox base: uedge.outbox)."""

from uedge.outbox import STRATEGIES, Outbox, OutboxError  # noqa: F401  (re-exported)


class MemoryOutbox(Outbox):
    """RAM-only queue: survives outages, not restarts. Keys are increasing ints."""

    def __init__(self, cap_items=1000, cap_bytes=0, strategy="oldest"):
        Outbox.__init__(self, cap_items, cap_bytes, strategy)
        self._items = []  # [key, ts_us, payload]
        self._next = 0
        self._bytes = 0

    def __len__(self):
        return len(self._items)

    def nbytes(self):
        return self._bytes

    def _full(self, extra):
        if self.cap_items and len(self._items) + 1 > self.cap_items:
            return True
        if self.cap_bytes and self._bytes + extra > self.cap_bytes:
            return True
        return False

    def put(self, ts_us, payload):
        size = len(payload)
        if self.cap_bytes and size > self.cap_bytes:
            self.dropped += 1
            self.last_error = "report of %d bytes exceeds the queue cap" % size
            return False
        if self._full(size):
            if self.strategy == "latest":
                self.dropped += 1
                return False
            while self._items and self._full(size):
                old = self._items.pop(0)
                self._bytes -= len(old[2])
                self.dropped += 1
        self._items.append((self._next, ts_us, payload))
        self._next += 1
        self._bytes += size
        return True

    def peek(self, max_items=100, max_bytes=0):
        out = []
        total = 0
        for item in self._items:
            if len(out) >= max_items:
                break
            n = len(item[2])
            if max_bytes and out and total + n > max_bytes:
                break
            total += n
            out.append(item)
        return out

    def ack(self, keys):
        if not keys:
            return
        gone = {}
        for k in keys:
            gone[k] = True
        keep = []
        for item in self._items:
            if item[0] in gone:
                self._bytes -= len(item[2])
            else:
                keep.append(item)
        self._items = keep
