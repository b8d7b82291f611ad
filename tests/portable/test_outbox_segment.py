# SegmentOutbox: append-only segment files with per-record length + CRC.
import os

import binascii

from uedge.outbox import SegmentOutbox


def _tmpdir():
    base = "/tmp/uedge-outbox-" + binascii.hexlify(os.urandom(6)).decode()
    os.mkdir(base)
    return base


def _rmtree(path):
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def test_segment_roundtrip_and_reopen():
    d = _tmpdir()
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
        _rmtree(d)


def test_segment_unacked_peek_repeats():
    d = _tmpdir()
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
        _rmtree(d)


def test_segment_drop_oldest_cap():
    d = _tmpdir()
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
        _rmtree(d)


def test_segment_drop_latest_cap():
    d = _tmpdir()
    try:
        q = SegmentOutbox(d, cap_items=10, cap_bytes=0, strategy="latest")
        ok = [q.put(i, "v%d" % i) for i in range(15)]
        assert ok == [True] * 10 + [False] * 5
        assert q.dropped == 5
        assert [b[1] for b in q.peek(100)] == list(range(10))
        q.close()
    finally:
        _rmtree(d)


def _corrupt(path, offset):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[offset] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)


def test_segment_corrupted_record_skipped():
    d = _tmpdir()
    try:
        q = SegmentOutbox(d, cap_bytes=0)
        for i in range(10):
            q.put(i, '{"001":%d}' % i)
        keys = [b[0] for b in q.peek(10)]
        q.close()
        seg = d + "/%08d.seg" % keys[3][0]
        _corrupt(seg, keys[3][1] + 20)  # a payload byte of record 3
        q = SegmentOutbox(d, cap_bytes=0)
        got = []
        while True:
            batch = q.peek(4)
            if not batch:
                break
            got.extend(b[1] for b in batch)
            q.ack([b[0] for b in batch])
        assert got == [0, 1, 2, 4, 5, 6, 7, 8, 9]
        assert q.corrupted == 1
        assert "damaged" in q.last_error
        q.close()
    finally:
        _rmtree(d)


def test_segment_corrupted_header_and_torn_tail():
    d = _tmpdir()
    try:
        q = SegmentOutbox(d, cap_bytes=0)
        for i in range(6):
            q.put(i, "payload-%d" % i)
        keys = [b[0] for b in q.peek(10)]
        q.close()
        seg = d + "/%08d.seg" % keys[0][0]
        _corrupt(seg, keys[0][1])  # magic of the first record
        with open(seg, "ab") as f:
            f.write(b"\xa5\x5a\x10\x00")  # power cut in the middle of a header
        q = SegmentOutbox(d, cap_bytes=0)
        q.put(100, "new")  # goes to a fresh segment, never after the torn tail
        got = []
        while True:
            batch = q.peek(100)
            if not batch:
                break
            got.extend(b[1] for b in batch)
            q.ack([b[0] for b in batch])
        assert got == [1, 2, 3, 4, 5, 100]
        assert q.corrupted >= 1
        q.close()
    finally:
        _rmtree(d)
