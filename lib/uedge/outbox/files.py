"""Files of the flash outbox (segment.py): reading its records, handles
opened under a tight heap, and the cursor log.

A littlefs file object carries a cache_size buffer (1 KB on rp2: progsize
256), so in a fragmented board heap an open() at run time can fail although
much more is free in small pieces. Opener holds back a block the size of one
handle (measured at the first open) and gives it up to the next open.

The cursor log is an append-only file of lines "seq offset dropped corrupted
crc32": the last intact line counts, a torn one is ignored; past MAX bytes it
is compacted to one line through a rename. Its handle stays open.
"""

import binascii
import gc
import os
import struct

MAX = 2048
MAGIC = b"\xa5\x5a"  # a record: magic, length u32, ts_us i64, crc u32 (segment.py)
HDR = "<IqI"
HDR_LEN = 2 + 16
MAX_RECORD = 1048576
_MEASURE = hasattr(gc, "mem_alloc")  # MicroPython: handle sizes can be measured


def read_record(f, pos, hdr):
    """The record at pos (hdr: a buffer of HDR_LEN bytes to read the header
    into): None at clean EOF, (None, ..) when damaged, else
    (ts_us, payload_bytes, True, end)."""
    f.seek(pos)
    got = f.readinto(hdr)
    if not got:
        return None
    if got < HDR_LEN or hdr[0] != 0xA5 or hdr[1] != 0x5A:
        return (None, None, False, pos)
    n, ts, crc = struct.unpack_from(HDR, hdr, 2)
    if n > MAX_RECORD:
        return (None, None, False, pos)
    payload = f.read(n)
    if len(payload) < n or binascii.crc32(payload, binascii.crc32(memoryview(hdr)[6:14])) & 0xFFFFFFFF != crc:
        return (None, None, False, pos)
    return (ts, payload, True, pos + HDR_LEN + n)


class Opener:
    def __init__(self):
        self.reserve = None
        self.size = 0

    def open(self, name, mode):
        """open(name, mode) unbuffered (reads see appends at once)."""
        if self.reserve is not None:
            self.reserve = None  # dropped without a local copy: nothing pins it
            gc.collect()
        a = gc.mem_alloc() if _MEASURE else 0
        f = open(name, mode, 0)
        if _MEASURE:
            if not self.size:
                self.size = gc.mem_alloc() - a
            self.refill(False)
        return f

    def refill(self, collect=True):
        """Take the held-back block again if it was given up (after a handle
        is closed: collected, its block is the one taken)."""
        if self.reserve is None and self.size:
            if collect:
                gc.collect()
            try:
                self.reserve = bytearray(self.size)
            except MemoryError:
                pass  # taken at the next close or open


def _line(cur, dropped, corrupted):
    line = "%d %d %d %d" % (cur[0], cur[1], dropped, corrupted)
    return ("%s %08x\n" % (line, binascii.crc32(line.encode()) & 0xFFFFFFFF)).encode()


class CursorLog:
    def __init__(self, path, opener):
        self.path = path
        self.opener = opener
        self.f = None
        self.size = 0

    def write(self, cur, dropped, corrupted, compact=False):
        rec = _line(cur, dropped, corrupted)
        f = self.f
        if f is not None and not compact and self.size + len(rec) <= MAX:
            f.write(rec)
            f.flush()
            self.size += len(rec)
            return
        self.close()
        tmp = self.path + ".tmp"
        f = self.opener.open(tmp, "wb")
        try:
            f.write(rec)
        finally:
            f.close()
        os.rename(tmp, self.path)
        self.size = len(rec)
        self.f = self.opener.open(self.path, "ab")

    def read(self):
        """(cursor, dropped, corrupted) of the last intact line, or None."""
        try:
            with open(self.path) as f:
                lines = f.read().split("\n")
        except OSError:
            return None
        for ln in reversed(lines):
            parts = ln.split()
            try:
                if len(parts) == 5:  # "... crc": a torn or damaged line is skipped
                    if int(parts[4], 16) != binascii.crc32(ln[: ln.rindex(" ")].encode()) & 0xFFFFFFFF:
                        continue
                elif len(parts) != 4:  # a single line without crc (earlier releases)
                    continue
                return (int(parts[0]), int(parts[1])), int(parts[2]), int(parts[3])
            except ValueError:
                continue
        return None

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None
