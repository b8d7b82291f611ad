"""The flash outbox: append-only segment files (see memory.py for the interface)."""

import binascii
import os
import struct

from uedge.compat import release
from uedge.outbox.files import HDR_LEN, MAGIC, MAX_RECORD, CursorLog, Opener, read_record
from uedge.outbox import Outbox

# -- segment files ------------------------------------------------------------
#
# A SegmentOutbox is a directory of append-only files NNNNNNNN.seg. Each record:
#
#   magic   2 bytes  A5 5A
#   length  u32 LE   payload bytes
#   ts_us   i64 LE   sampling time
#   crc     u32 LE   CRC-32 of ts_us bytes + payload
#   payload length bytes (UTF-8 JSON)
#
# Flash-friendly: records are only ever appended, whole segments are deleted
# once delivered; the position of the oldest undelivered record goes into an
# append-only cursor log (files.py). A damaged record (bad magic, absurd
# length, CRC mismatch, torn tail after a power cut) is skipped: the reader
# scans forward to the next valid record.
#
# Heap: files stay open rather than being opened per call (a littlefs handle
# holds a 1 KB cache on rp2): the write handle (read from too: "a+b") and the
# cursor log from the start, in the unfragmented heap of boot; one reader of
# an older segment, the previous write handle handed over at rotation. The
# only run-time open is a new segment's, through files.Opener.

def _recover(step, *args):
    """The start's scan and the damage recovery (uedge.outbox.segment_scan):
    loaded for the step, released after it on a board, so a steady loop does
    not hold their code."""
    from uedge.outbox import segment_scan

    try:
        return getattr(segment_scan, step)(*args)
    finally:
        release("uedge.outbox.segment_scan")


class SegmentOutbox(Outbox):
    """Durable queue in append-only segment files (boards: flash; hosts: any dir).

    cap_bytes bounds the sum of segment sizes; with strategy "oldest" room is
    made by deleting the oldest whole segment (segment_bytes at a time), with
    "latest" new reports are refused while full. Keys are (seq, start, end).
    sync: call os.sync() (where the port has it) after every put when True;
    the file is always flushed.
    """

    def __init__(self, path, cap_items=0, cap_bytes=262144, strategy="oldest",
                 segment_bytes=16384, sync=False):
        Outbox.__init__(self, cap_items, cap_bytes, strategy)
        self.path = path.rstrip("/")
        self.segment_bytes = max(1024, int(segment_bytes))
        self.sync = sync
        try:
            os.mkdir(self.path)
        except OSError:
            pass
        self._w = None  # append handle of the newest segment ("a+b": read too)
        self._r = None  # read handle of an older segment (seq self._rseq)
        self._rseq = -1
        self._wseq = 0
        self._wsize = 0
        self._counts = {}  # seq -> records still undelivered in that segment
        self._sizes = {}  # seq -> bytes
        self._cur = (0, 0)  # (seq, offset) of the oldest undelivered record
        self._hbuf = bytearray(HDR_LEN)
        self._hbuf[0:2] = MAGIC
        self._hts = memoryview(self._hbuf)[6:14]
        self._rbuf = bytearray(HDR_LEN)  # headers read into it (no bytes per record)
        op = Opener()  # one reserve for all of them
        self._open = op.open
        self._refill = op.refill
        self._log = CursorLog(self.path + "/cursor", op)
        self._load()
        self._write_cursor(True)  # compacted: the log's handle opens now, not mid-run
        self._writer()

    # -- files
    def _seg(self, seq):
        return "%s/%08d.seg" % (self.path, seq)

    def _segments(self):
        seqs = []
        for name in os.listdir(self.path):
            if name.endswith(".seg") and len(name) == 12:
                try:
                    seqs.append(int(name[:8]))
                except ValueError:
                    pass
        seqs.sort()
        return seqs

    def _writer(self):
        if self._w is None:
            self._w = self._open(self._seg(self._wseq), "a+b")  # unbuffered: reads see appends
        return self._w

    def _reader(self, seq):
        """An open handle on segment seq (the write handle for the newest)."""
        if seq == self._wseq:
            return self._writer()
        if self._rseq != seq:
            self._close_reader()
            self._r = self._open(self._seg(seq), "rb")
            self._rseq = seq
        return self._r

    def _close_reader(self):
        if self._r is not None:
            self._r.close()
            self._r = None
            self._rseq = -1
            self._refill()  # the handle's block becomes the held-back one

    def _write_cursor(self, compact=False):
        # the counters ride along for free
        self._log.write(self._cur, self.dropped, self.corrupted, compact)

    def _load(self):
        """The segments and the cursor as the last run left them (at start)."""
        _recover("load", self)

    def _read_at(self, f, pos):
        return read_record(f, pos, self._rbuf)

    def _remove(self, seq):
        if seq == self._rseq:
            self._close_reader()
        try:
            os.remove(self._seg(seq))
        except OSError:
            pass
        self._counts.pop(seq, None)
        self._sizes.pop(seq, None)

    # -- interface
    def __len__(self):
        n = 0
        for s in self._counts:
            n += self._counts[s]
        return n

    def nbytes(self):
        n = 0
        for s in self._sizes:
            n += self._sizes[s]
        return n - self._cur[1]

    def _drop_oldest_segment(self):
        seqs = sorted(self._counts)
        if not seqs:
            return False
        s = seqs[0]
        if s == self._wseq:
            self._rotate()
        self.dropped += self._counts.get(s, 0)
        self._remove(s)
        rest = sorted(self._counts)
        self._cur = (rest[0], 0) if rest else (self._wseq, 0)
        self._write_cursor()
        return True

    def _rotate(self):
        # the write handle goes on as its segment's reader (replayed later)
        self._close_reader()
        if self._w is not None:
            self._r = self._w
            self._rseq = self._wseq
            self._w = None
        self._wseq += 1
        self._wsize = 0
        self._counts[self._wseq] = 0
        self._sizes[self._wseq] = 0

    def _full(self, extra):
        if self.cap_items and len(self) + 1 > self.cap_items:
            return True
        if self.cap_bytes and self.nbytes() + extra > self.cap_bytes:
            return True
        return False

    def put(self, ts_us, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        size = HDR_LEN + len(payload)
        if len(payload) > MAX_RECORD or (self.cap_bytes and size > self.cap_bytes):
            self.dropped += 1
            self.last_error = "report of %d bytes exceeds the queue cap" % len(payload)
            return False
        if self._full(size):
            if self.strategy == "latest":
                self.dropped += 1
                return False
            while self._full(size):
                if len(self) == 0 or not self._drop_oldest_segment():
                    break
        if self._wsize and self._wsize + size > self.segment_bytes:
            self._rotate()
        w = self._writer()
        # header built in place in one reused buffer (no per-put bytes objects)
        h = self._hbuf
        struct.pack_into("<q", h, 6, ts_us)
        crc = binascii.crc32(payload, binascii.crc32(self._hts)) & 0xFFFFFFFF
        struct.pack_into("<I", h, 2, len(payload))
        struct.pack_into("<I", h, 14, crc)
        w.write(h)
        w.write(payload)
        w.flush()
        if self.sync and hasattr(os, "sync"):
            os.sync()
        self._wsize += size
        self._sizes[self._wseq] = self._wsize
        self._counts[self._wseq] = self._counts.get(self._wseq, 0) + 1
        return True

    def peek(self, max_items=100, max_bytes=0):
        out = []
        total = 0
        # a segment with nothing undelivered is not opened (after a rotation
        # the new write segment's handle opens with the next put)
        seqs = sorted(s for s in self._counts if s >= self._cur[0] and self._counts[s])
        for s in seqs:
            pos = self._cur[1] if s == self._cur[0] else 0
            try:
                f = self._reader(s)
            except OSError:
                continue
            while len(out) < max_items:
                rec = self._read_at(f, pos)
                if rec is None:
                    break
                if rec[0] is None:
                    if out:  # deliver what precedes the damage first
                        return out
                    pos = self._skip_damage(f, s, pos)
                    if pos < 0:
                        break
                    continue
                n = len(rec[1])
                if max_bytes and out and total + n > max_bytes:
                    return out
                total += n
                out.append(((s, pos, rec[3]), rec[0], rec[1].decode()))
                pos = rec[3]
            if len(out) >= max_items:
                break
        return out

    def _skip_damage(self, f, seq, pos):
        """The oldest record is unreadable: count it, move the cursor past it."""
        return _recover("skip_damage", self, f, seq, pos)

    def ack(self, keys):
        # nothing is allocated before the cursor moves but the new cursor
        # itself: a MemoryError cannot leave the records counted as delivered
        # and yet queued (sent again)
        if not keys:
            return
        last = keys[0]
        for k in keys:
            if k[0] > last[0] or (k[0] == last[0] and k[1] > last[1]):
                last = k
        c0, c1 = self._cur
        if last[0] < c0 or (last[0] == c0 and last[2] <= c1):
            return  # already delivered (a duplicate ack)
        cur = (last[0], last[2])
        counts = self._counts
        for k in keys:
            s = k[0]
            if (s > c0 or (s == c0 and k[1] >= c1)) and s in counts:
                counts[s] = counts[s] - 1 if counts[s] > 0 else 0
        self._cur = cur
        # acks come in queue order: older segments are fully delivered
        for s in sorted(counts):
            if s < last[0]:
                self._remove(s)
        if last[0] != self._wseq and counts.get(last[0], 0) == 0:
            self._remove(last[0])
            rest = sorted(counts)
            self._cur = (rest[0], 0) if rest else (self._wseq, self._wsize)
        self._write_cursor()

    def close(self):
        self._close_reader()
        if self._w is not None:
            self._w.close()
            self._w = None
        try:
            self._write_cursor()  # counters changed since the last cursor write
        except OSError:
            pass
        self._log.close()
