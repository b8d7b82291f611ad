"""SegmentOutbox's reading of damaged or unknown files: the scan of the
segments at start and the recovery from a damaged record (segment.py loads
this module for one step and, on a board, releases it after)."""

import os

from uedge.outbox.files import MAGIC, read_record


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def load(ob):
    """The segments and the cursor as the last run left them."""
    seqs = ob._segments()
    cur = ob._log.read()
    if cur is not None:
        cur, ob.dropped, ob.corrupted = cur
    if cur is None or cur[0] not in seqs:
        cur = (seqs[0], 0) if seqs else (1, 0)
    # segments older than the cursor were delivered: remove leftovers
    for s in seqs:
        if s < cur[0]:
            ob._remove(s)
    seqs = [s for s in seqs if s >= cur[0]]
    ob._cur = cur
    tail_ok = True
    for s in seqs:
        start = cur[1] if s == cur[0] else 0
        n, end, clean = scan(ob, s, start)
        ob._counts[s] = n
        ob._sizes[s] = _size(ob._seg(s))
        tail_ok = clean and end == ob._sizes[s]
    if seqs and tail_ok and ob._sizes[seqs[-1]] < ob.segment_bytes:
        ob._wseq = seqs[-1]
        ob._wsize = ob._sizes[seqs[-1]]
    else:
        # torn or full tail: never append after damage, start afresh
        ob._wseq = (seqs[-1] + 1) if seqs else cur[0]
        ob._wsize = 0
        ob._counts[ob._wseq] = 0
        ob._sizes[ob._wseq] = 0
    if not seqs:
        ob._cur = (ob._wseq, 0)


def scan(ob, seq, start):
    """Count readable records of segment seq from start -> (count, end, clean)."""
    n, pos, clean = 0, start, True
    try:
        f = open(ob._seg(seq), "rb")
    except OSError:
        return 0, 0, True
    hdr = ob._rbuf
    try:
        while True:
            rec = read_record(f, pos, hdr)
            if rec is None:
                break
            if rec[0] is None:  # damaged: resync
                clean = False
                nxt = resync(f, pos + 1, hdr)
                if nxt < 0:
                    break
                pos = nxt
                continue
            n += 1
            pos = rec[3]
    finally:
        f.close()
    return n, pos, clean


def skip_damage(ob, f, seq, pos):
    """The oldest record (segment seq at pos, open as f) is unreadable: count
    it, move the cursor past it -> the next record's offset, -1 if none."""
    nxt = resync(f, pos + 1, ob._rbuf)
    ob.corrupted += 1
    ob.last_error = "queue record at %s offset %d is damaged; skipped" % (ob._seg(seq), pos)
    if nxt < 0:
        # rest of this segment is unreadable
        if seq != ob._wseq:
            ob._counts[seq] = 0
            ob._remove(seq)
            rest = sorted(ob._counts)
            ob._cur = (rest[0], 0) if rest else (ob._wseq, ob._wsize)
        else:
            ob._cur = (seq, ob._wsize)
            ob._counts[seq] = 0
        ob._write_cursor()
        return -1
    ob._cur = (seq, nxt)
    # recount this segment from the new cursor (the damage hid an unknown
    # number of records)
    n, _end, _clean = scan(ob, seq, nxt)
    ob._counts[seq] = n
    ob._write_cursor()
    return nxt


def resync(f, pos, hdr):
    """Offset of the next valid record at or after pos, -1 if none."""
    while True:
        f.seek(pos)
        chunk = f.read(4096)
        if not chunk:
            return -1
        i = 0
        while True:
            i = chunk.find(MAGIC, i)
            if i < 0:
                break
            rec = read_record(f, pos + i, hdr)
            if rec is not None and rec[0] is not None:
                return pos + i
            i += 1
        pos += max(1, len(chunk) - 1)
