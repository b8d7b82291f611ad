# MemoryOutbox: bounded, ordered, at-least-once (items leave only on ack).
from ptest import raises

from uedge.outbox.memory import MemoryOutbox, OutboxError


def test_memory_order_and_ack():
    q = MemoryOutbox(cap_items=100)
    for i in range(10):
        assert q.put(1000 + i, '{"001":%d}' % i)
    assert len(q) == 10
    batch = q.peek(4)
    assert [b[1] for b in batch] == [1000, 1001, 1002, 1003]
    assert batch[0][2] == '{"001":0}'
    # peek again without ack: the same items (at least once)
    assert [b[0] for b in q.peek(4)] == [b[0] for b in batch]
    q.ack([b[0] for b in batch])
    assert len(q) == 6
    assert q.peek(1)[0][1] == 1004


def test_memory_drop_oldest():
    q = MemoryOutbox(cap_items=5, strategy="oldest")
    for i in range(8):
        assert q.put(i, "x%d" % i)
    assert len(q) == 5
    assert q.dropped == 3
    assert [b[1] for b in q.peek(10)] == [3, 4, 5, 6, 7]


def test_memory_drop_latest():
    q = MemoryOutbox(cap_items=5, strategy="latest")
    results = [q.put(i, "x%d" % i) for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert q.dropped == 3
    assert [b[1] for b in q.peek(10)] == [0, 1, 2, 3, 4]


def test_memory_byte_cap_and_batch_bytes():
    q = MemoryOutbox(cap_items=0, cap_bytes=100, strategy="oldest")
    for i in range(20):
        q.put(i, "0123456789")
    assert q.nbytes() <= 100
    assert len(q) == 10
    assert q.dropped == 10
    batch = q.peek(100, max_bytes=35)
    assert len(batch) == 3
    # one oversized item is still returned alone so the queue never stalls
    q2 = MemoryOutbox()
    q2.put(1, "x" * 50)
    assert len(q2.peek(10, max_bytes=10)) == 1


def test_memory_bad_strategy():
    e = raises(OutboxError, MemoryOutbox, 10, 0, "middle")
    assert "oldest" in str(e)


def test_memory_stats():
    q = MemoryOutbox(cap_items=2, strategy="latest")
    q.put(1, "a")
    q.put(2, "b")
    q.put(3, "c")
    st = q.stats()
    assert st["depth"] == 2 and st["dropped"] == 1 and st["strategy"] == "latest"
