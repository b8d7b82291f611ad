# Replay over a record API with one-second slots (HTTP): reports of the same
# second are merged into one record, also where a batch would split them.
import json

from uedge.outbox.memory import MemoryOutbox

from edge_rig import Store, run, start_edge

S = 1700000000 * 1000000


class _SlotLink:
    record_ts_divisor = 1000000

    def __init__(self):
        self.connected = False
        self.records = []
        self.on_update = self.on_ack = self.on_state = None

    def poll(self, now):
        pass

    def record(self, entries):
        self.records.extend(entries)
        return None  # delivered at once

    def write(self, alias, value):
        return None

    def close(self):
        pass


def _replay(items, batch_items):
    link = _SlotLink()
    q = MemoryOutbox(cap_items=0)
    for ts, payload in items:
        q.put(ts, payload)
    clock, e = start_edge(link, q, Store(None), up=True, batch_items=batch_items)
    run(e, clock, 50)
    assert len(q) == 0
    return link.records


def test_same_second_reports_are_not_split_at_a_batch_boundary():
    items = [
        (S - 1000000, '{"000":0}'),
        (S + 100000, '{"001":1}'),
        (S + 500000, '{"002":2}'),  # batch of 3 would end here
        (S + 700000, '{"003":3}'),  # same second: must be in the same record
        (S + 1200000, '{"004":4}'),
    ]
    records = _replay(items, 3)
    seconds = [ts // 1000000 for ts, _v in records]
    assert len(seconds) == len(set(seconds)), "two records in one second: %s" % records
    merged = {}
    for ts, v in records:
        if ts // 1000000 == S // 1000000:
            merged = json.loads(v["data_in"])
    assert merged == {"001": 1, "002": 2, "003": 3}
    allv = {}
    for _ts, v in records:
        allv.update(json.loads(v["data_in"]))
    assert allv == {"000": 0, "001": 1, "002": 2, "003": 3, "004": 4}


def test_batches_still_fill_when_seconds_differ():
    items = [(S + i * 1000000, '{"001":%d}' % i) for i in range(7)]
    records = _replay(items, 3)
    assert [json.loads(v["data_in"])["001"] for _ts, v in records] == list(range(7))


class _TsLink(_SlotLink):
    record_ts_divisor = 1  # microsecond records (MQTT): live reports carry timestamps

    def __init__(self):
        _SlotLink.__init__(self)
        self.writes = []

    def write(self, alias, value):
        self.writes.append((alias, value))
        return None


def test_replay_waits_for_the_clock_to_be_set():
    link = _TsLink()
    q = MemoryOutbox(cap_items=0)
    for i in range(3):
        q.put(S + i * 1000000, '{"001":%d}' % i)
    synced = [False]
    clock, e = start_edge(link, q, Store(None), up=True, clock_ok=lambda: synced[0])
    run(e, clock, 20)
    assert len(q) == 3 and not link.records  # held
    assert e.next_wake_ms(clock.now_ms()) > clock.now_ms()  # and no busy loop meanwhile
    e._send_live(clock.epoch_us(), '{"002":1}', clock.now_ms())
    assert link.writes == [("data_in", '{"002":1}')] and not link.records  # stamped by the connector
    synced[0] = True
    run(e, clock, 20)
    assert len(q) == 0 and len(link.records) == 3
    e._send_live(clock.epoch_us(), '{"002":2}', clock.now_ms())
    assert len(link.records) == 4  # with its timestamp again
