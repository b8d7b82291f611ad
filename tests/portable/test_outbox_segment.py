# SegmentOutbox: append-only segment files with per-record length + CRC.
import os
import sys

from uedge.outbox.segment import SegmentOutbox

from scratch import rmtree, tmpdir


def test_segment_roundtrip_and_reopen():
    d = tmpdir("uedge-outbox-")
    try:
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=1024)
        for i in range(100):
            assert q.put(1700000000000000 + i, '{"001":%d}' % i)
        assert len(q) == 100
        batch = q.peek(30)
        assert [b[1] for b in batch] == [1700000000000000 + i for i in range(30)]
        assert batch[5][2] == '{"001":5}'
        q.ack([b[0] for b in batch])
        assert len(q) == 70
        q.close()
        # reopen: acked items stay delivered, the rest is still there, in order
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=1024)
        assert len(q) == 70
        got = []
        while len(q):
            batch = q.peek(17)
            assert batch
            got.extend(b[1] - 1700000000000000 for b in batch)
            q.ack([b[0] for b in batch])
        assert got == list(range(30, 100))
        # fully delivered segments were deleted (at most the write segment remains)
        assert len([n for n in os.listdir(d) if n.endswith(".seg")]) <= 1
        q.put(5, "after")
        q.close()
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=1024)
        assert [b[2] for b in q.peek(5)] == ["after"]
        q.close()
    finally:
        rmtree(d)


def test_segment_unacked_peek_repeats():
    d = tmpdir("uedge-outbox-")
    try:
        q = SegmentOutbox(d)
        q.put(1, "a")
        q.put(2, "b")
        k1 = [b[0] for b in q.peek(10)]
        k2 = [b[0] for b in q.peek(10)]
        assert k1 == k2 and len(k1) == 2
        q.ack(k1)
        q.ack(k1)  # duplicate ack is harmless
        assert len(q) == 0 and q.peek(10) == []
        q.close()
    finally:
        rmtree(d)


def test_segment_drop_oldest_cap():
    d = tmpdir("uedge-outbox-")
    try:
        q = SegmentOutbox(d, cap_bytes=4096, segment_bytes=1024, strategy="oldest")
        for i in range(500):
            assert q.put(i, "0123456789012345678901234567890123456789")
        assert q.nbytes() <= 4096
        assert q.dropped > 0
        assert len(q) + q.dropped == 500
        ts = [b[1] for b in q.peek(1000)]
        # the newest survive, in order
        assert ts[-1] == 499
        assert ts == sorted(ts)
        q.close()
    finally:
        rmtree(d)


def test_segment_drop_latest_cap():
    d = tmpdir("uedge-outbox-")
    try:
        q = SegmentOutbox(d, cap_items=10, cap_bytes=0, strategy="latest")
        ok = [q.put(i, "v%d" % i) for i in range(15)]
        assert ok == [True] * 10 + [False] * 5
        assert q.dropped == 5
        assert [b[1] for b in q.peek(100)] == list(range(10))
        q.close()
    finally:
        rmtree(d)


def _corrupt(path, offset):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[offset] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)


def _filled(d, n, fmt):
    """Put n records (ts 0..n-1, payload fmt % ts) in a new SegmentOutbox in d
    and close it -> their keys."""
    q = SegmentOutbox(d, cap_bytes=0)
    for i in range(n):
        q.put(i, fmt % i)
    keys = [b[0] for b in q.peek(n)]
    q.close()
    return keys


def _drain(q, batch_items):
    """Peek and ack batches until the outbox is empty -> the ts delivered."""
    got = []
    while True:
        batch = q.peek(batch_items)
        if not batch:
            break
        got.extend(b[1] for b in batch)
        q.ack([b[0] for b in batch])
    return got


def test_segment_corrupted_record_skipped():
    d = tmpdir("uedge-outbox-")
    try:
        keys = _filled(d, 10, '{"001":%d}')
        seg = d + "/%08d.seg" % keys[3][0]
        _corrupt(seg, keys[3][1] + 20)  # a payload byte of record 3
        q = SegmentOutbox(d, cap_bytes=0)
        got = _drain(q, 4)
        assert got == [0, 1, 2, 4, 5, 6, 7, 8, 9]
        assert q.corrupted == 1
        assert "damaged" in q.last_error
        if sys.implementation.name == "micropython":
            # the scan and the recovery were loaded for their steps only
            assert "uedge.outbox.segment_scan" not in sys.modules
        q.close()
    finally:
        rmtree(d)


def test_segment_corrupted_header_and_torn_tail():
    d = tmpdir("uedge-outbox-")
    try:
        keys = _filled(d, 6, "payload-%d")
        seg = d + "/%08d.seg" % keys[0][0]
        _corrupt(seg, keys[0][1])  # magic of the first record
        with open(seg, "ab") as f:
            f.write(b"\xa5\x5a\x10\x00")  # power cut in the middle of a header
        q = SegmentOutbox(d, cap_bytes=0)
        q.put(100, "new")  # goes to a fresh segment, never after the torn tail
        got = _drain(q, 100)
        assert got == [1, 2, 3, 4, 5, 100]
        assert q.corrupted >= 1
        q.close()
    finally:
        rmtree(d)
