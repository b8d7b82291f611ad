# SegmentOutbox's files: handles kept open (no open per peek or ack), the
# append-only cursor log (torn lines, compaction, the one-line format of
# earlier releases), the reserve a board keeps for a run-time open.
import os
import sys

from uedge.outbox import files
from uedge.outbox.segment import SegmentOutbox

from scratch import rmtree, tmpdir


class _Counting:
    """Wraps an Opener: counts the opens."""

    def __init__(self, op):
        self.op = op
        self.names = []

    def open(self, name, mode):
        self.names.append(name)
        return self.op.open(name, mode)


def _counted(q):
    c = _Counting(q._log.opener)
    q._open = c.open
    q._log.opener = c
    return c


def _in_dir(body):
    """Run body(dir) in a scratch directory, removed afterwards."""
    d = tmpdir("uedge-outbox-")
    try:
        body(d)
    finally:
        rmtree(d)


def _filled(d, n, segment_bytes=16384, pad=""):
    q = SegmentOutbox(d, cap_bytes=0, segment_bytes=segment_bytes)
    for i in range(n):
        q.put(i, '{"001":%d%s}' % (i, pad))
    return q


def _cut_power(q):
    """Close the files as a power cut leaves them: nothing written at close."""
    q._log.close()
    q._w.close()


def _drain(q, n):
    got = []
    while len(q):
        batch = q.peek(n)
        assert batch
        got.extend(b[2] for b in batch)
        q.ack([b[0] for b in batch])
    return got


def test_peek_and_ack_open_no_file_within_a_segment():
    def body(d):
        q = _filled(d, 0)
        c = _counted(q)
        for i in range(40):
            q.put(i, '{"001":%d}' % i)
        assert _drain(q, 7) == ['{"001":%d}' % i for i in range(40)]
        # the write segment was read through its own handle, the cursor log
        # appended to through the handle opened at start
        assert c.names == []
        q.close()

    _in_dir(body)


def test_rotation_hands_the_write_handle_over_as_reader():
    def body(d):
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=1024)
        c = _counted(q)
        for i in range(60):
            q.put(i, '{"001":%d,"pad":"%s"}' % (i, "x" * 40))
        segs = sorted(n for n in os.listdir(d) if n.endswith(".seg"))
        assert len(segs) >= 4
        # one open per new segment, none for reading the previous one
        assert len(c.names) == len(segs) - 1
        before = len(c.names)
        got = _drain(q, 5)
        assert len(got) == 60 and got[59].startswith('{"001":59,')
        # replay opened each older segment once (the write segment is read
        # through its own handle)
        opened = c.names[before:]
        assert len(opened) == len(set(opened)) and len(opened) <= len(segs) - 1
        assert q._seg(q._wseq) not in opened
        q.close()

    _in_dir(body)


def test_one_rotation_replays_without_an_open():
    def body(d):
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=1024)
        c = _counted(q)
        i = 0
        while q._wseq == 1 or i < 3:
            q.put(i, '{"001":%d,"pad":"%s"}' % (i, "x" * 40))
            i += 1
        assert len(c.names) == 1  # the second segment
        assert len(_drain(q, 4)) == i
        assert len(c.names) == 1  # the first is read through the handed-over handle
        q.close()

    _in_dir(body)


def _lines(path):
    with open(path) as f:
        return [ln for ln in f.read().split("\n") if ln]


def test_cursor_log_appends_and_the_last_intact_line_counts():
    def body(d):
        q = _filled(d, 10)
        for _ in range(3):
            q.ack([b[0] for b in q.peek(2)])
        _cut_power(q)
        log = d + "/cursor"
        assert len(_lines(log)) == 4  # the compacted line of the start + 3 acks
        # a torn append after the last ack: ignored
        with open(log, "ab") as f:
            f.write(b"1 999")
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=16384)
        assert len(q) == 4
        assert [b[2] for b in q.peek(1)] == ['{"001":6}']
        # reopening compacted the log to one line
        assert len(_lines(log)) == 1
        q.close()

    _in_dir(body)


def test_cursor_line_with_a_bad_crc_is_skipped():
    def body(d):
        q = _filled(d, 6)
        q.ack([b[0] for b in q.peek(2)])
        _cut_power(q)
        good = _lines(d + "/cursor")[-1].split()
        # an intact-looking line whose crc does not match (a bit flip)
        with open(d + "/cursor", "ab") as f:
            f.write(("%s %s 0 0 %s\n" % (good[0], int(good[1]) + 30, good[4])).encode())
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=16384)
        assert len(q) == 4
        q.close()

    _in_dir(body)


def test_cursor_file_of_earlier_releases_is_read():
    def body(d):
        q = _filled(d, 5)
        keys = [b[0] for b in q.peek(5)]
        q.close()
        # "seq offset dropped corrupted", one line, no crc
        with open(d + "/cursor", "w") as f:
            f.write("%d %d 7 1\n" % (keys[2][0], keys[2][2]))
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=16384)
        assert len(q) == 2 and q.dropped == 7 and q.corrupted == 1
        assert [b[2] for b in q.peek(5)] == ['{"001":3}', '{"001":4}']
        q.close()

    _in_dir(body)


def test_cursor_log_is_compacted_past_its_limit():
    def body(d):
        q = _filled(d, 400, 65536)
        for _ in range(200):
            q.ack([b[0] for b in q.peek(1)])
            assert os.stat(d + "/cursor")[6] <= files.MAX
        q.close()
        q = SegmentOutbox(d, cap_bytes=0, segment_bytes=65536)
        assert len(q) == 200 and q.peek(1)[0][2] == '{"001":200}'
        q.close()

    _in_dir(body)


def test_opener_keeps_a_reserve_on_micropython():
    def body(d):
        op = files.Opener()
        f = op.open(d + "/a", "wb")
        if sys.implementation.name == "micropython":
            # the size of one handle (object + its cache) is held back
            assert op.size > 0 and op.reserve is not None and len(op.reserve) == op.size
        else:
            assert op.reserve is None
        g = op.open(d + "/b", "wb")
        f.close()
        g.close()

    _in_dir(body)


def test_closed_reader_gives_its_block_back_to_the_reserve():
    def body(d):
        q = _filled(d, 60, 1024, ',"pad":"%s"' % ("x" * 40))
        op = q._log.opener
        assert len(_drain(q, 5)) == 60
        assert q._r is None  # every older segment read and removed
        if sys.implementation.name == "micropython":
            assert op.reserve is not None and len(op.reserve) == op.size
        # an empty queue: peek opens nothing (not even the write segment)
        c = _counted(q)
        assert q.peek(10) == [] and c.names == []
        q.close()

    _in_dir(body)
