# SegmentOutbox against a plain list model: random put/peek/ack/reopen runs.
from uedge.outbox.segment import SegmentOutbox

from scratch import rmtree, tmpdir


class _Rand:
    # small LCG: the same sequence on CPython and MicroPython
    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def _run(seed, cap_bytes, steps=400, put_weight=5):
    r = _Rand(seed)
    d = tmpdir("uedge-outbox-model-")
    try:
        q = SegmentOutbox(d, cap_bytes=cap_bytes, segment_bytes=1024)
        model = []  # ts of undelivered items, in order (exact when unbounded)
        delivered = []
        puts = 0
        ts = 1000
        for _ in range(steps):
            op = r.below(10)
            if op < put_weight:
                ts += 1 + r.below(3)
                payload = "x" * r.below(120)
                if q.put(ts, '{"t":%d,"p":"%s"}' % (ts, payload)):
                    model.append(ts)
                puts += 1
            elif op < 8 or (op < 9 and put_weight >= 8):
                batch = q.peek(1 + r.below(12), r.below(2) * 700)
                got = [b[1] for b in batch]
                if cap_bytes == 0:
                    assert got == model[:len(got)]
                    assert len(got) > 0 or not model
                if batch and r.below(4):
                    k = 1 + r.below(len(batch))  # ack a prefix
                    q.ack([b[0] for b in batch[:k]])
                    delivered.extend(got[:k])
                    if cap_bytes == 0:
                        model = model[k:]
            elif op == 8:
                q.close()
                q = SegmentOutbox(d, cap_bytes=cap_bytes, segment_bytes=1024)
            else:
                assert len(q) == (len(model) if cap_bytes == 0 else len(q))
            # invariants on every run: order and accounting
            assert delivered == sorted(delivered)
            assert len(set(delivered)) == len(delivered)
            if cap_bytes:
                assert q.nbytes() <= cap_bytes
            assert len(q) + len(delivered) + q.dropped == puts
        # drain: everything left comes out in order after the delivered part
        while True:
            batch = q.peek(50)
            if not batch:
                break
            delivered.extend(b[1] for b in batch)
            q.ack([b[0] for b in batch])
        assert delivered == sorted(delivered) and len(set(delivered)) == len(delivered)
        assert len(delivered) + q.dropped == puts
        q.close()
    finally:
        rmtree(d)


def test_segment_model_unbounded():
    for seed in (1, 2, 3):
        _run(seed, 0)


def test_segment_model_capped_drop_oldest():
    for seed in (4, 5, 6):
        _run(seed, 3000, put_weight=7)
