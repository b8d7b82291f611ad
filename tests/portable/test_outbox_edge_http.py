# Live delivery over a record API with one-second slots (HTTP): reports of one
# second go as one record point stamped in that second, merged samples are
# counted per channel, a 409 conflict costs only the conflicting points, and
# the queue's cap is accounted as `dropped` (never `lost`) and reported as
# __error entries per channel.
import json

from uedge.outbox.memory import MemoryOutbox

from edge_rig import Store, run, start_edge

# Two counter channels sampled and reported every 100 ms.
CFG10 = (
    '{"last_edited":"2024-01-01T00:00:00Z","channels":{'
    '"001":{"display_name":"A","properties":{"data_type":"NUMBER"},"protocol_config":'
    '{"sample_rate":100,"report_rate":100,"application":"Simulated","app_specific_config":'
    '{"function":"counter","start":0,"step":1}}},'
    '"002":{"display_name":"B","properties":{"data_type":"NUMBER"},"protocol_config":'
    '{"sample_rate":100,"report_rate":100,"application":"Simulated","app_specific_config":'
    '{"function":"counter","start":1000,"step":1}}}}}'
)


class SecLink:
    """Whole-second record API. Keeps points by (alias, second) like the
    strict connector: a point at a second that holds one is a conflict
    (reported through on_ack(msg_id, [seconds]), the rest stored)."""

    record_ts_divisor = 1000000

    def __init__(self):
        self.connected = False
        self.points = {}  # second -> data_in text
        self.requests = []
        self.writes = []
        self.n = 0
        self.on_update = self.on_ack = self.on_state = None
        self._pending = []

    def poll(self, now):
        pend, self._pending = self._pending, []
        for msg, entries in pend:
            conflicts = []
            for ts, v in entries:
                s = ts // 1000000
                if s in self.points:
                    conflicts.append(s)
                else:
                    self.points[s] = v["data_in"]
            if conflicts:
                self.on_ack(msg, conflicts)
            else:
                self.on_ack(msg)

    def record(self, entries):
        if not self.connected:
            raise OSError("down")
        self.n += 1
        self.requests.append(entries)
        self._pending.append((self.n, entries))
        return self.n

    def write(self, alias, value):
        self.writes.append(alias)
        return None

    def close(self):
        pass


def _stored(link, cid):
    out = []
    for s in sorted(link.points):
        d = json.loads(link.points[s])
        if cid in d:
            out.append((s, d[cid]))
    return out


def test_live_reports_go_once_per_second_with_their_own_second():
    link = SecLink()
    clock, e = start_edge(link, MemoryOutbox(cap_items=0), Store(CFG10), up=True)
    t0 = clock.epoch_us()
    run(e, clock, 50)  # 5 s at 10 Hz
    clock.advance(1000)
    run(e, clock, 2, 0)  # the last second is over: sent
    assert "data_in" not in link.writes  # live data goes through record, never a server-stamped write
    for entries in link.requests:
        assert len(entries) == 1  # one point per request: one second
    a = _stored(link, "001")
    secs = [s for s, _v in a]
    assert secs == sorted(set(secs)) and len(secs) >= 4
    # each stored value was sampled in the second it is stamped with: the
    # counter value v was sampled at t0 + v * 100 ms
    for s, v in a:
        assert (t0 + v * 100000) // 1000000 == s, (s, v)
    # stored + merged = sampled, per channel
    sampled = max(v for _s, v in a) + 1
    assert len(a) + e.merged_by_channel["001"] == sampled
    st = e.status()
    assert st["merged"] == e.merged_by_channel["001"] + e.merged_by_channel["002"]
    assert st["channels"]["001"]["merged"] == e.merged_by_channel["001"]
    assert st["delivered"] == len(link.points) and st["lost"] == 0


def test_a_retried_second_lands_on_the_same_point_and_counts_as_conflict():
    link = SecLink()
    q = MemoryOutbox(cap_items=0)
    clock, e = start_edge(link, q, Store(CFG10), up=True)
    run(e, clock, 25)
    first = dict(link.points)
    # the same seconds again (a retry after a lost answer): queued, replayed
    for s in sorted(first):
        q.put(s * 1000000 + 5, first[s])
    run(e, clock, 30)
    assert len(q) == 0
    for s in first:
        assert link.points[s] == first[s]  # nothing stored twice, nothing moved
    assert e.conflicts == len(first)
    assert e.lost == 0


def test_offline_seconds_are_queued_merged_and_replayed_in_order():
    link = SecLink()
    q = MemoryOutbox(cap_items=0)
    clock, e = start_edge(link, q, Store(CFG10))
    t0 = clock.epoch_us()
    run(e, clock, 30)  # offline 3 s: one queued row per second
    assert 2 <= len(q) <= 3  # (the current second is still being gathered)
    link.connected = True
    e._on_state(True, "up")
    run(e, clock, 30)
    clock.advance(1000)
    run(e, clock, 2, 0)
    a = _stored(link, "001")
    for s, v in a:
        assert (t0 + v * 100000) // 1000000 == s
    sampled = max(v for _s, v in a) + 1
    assert len(a) + e.merged_by_channel["001"] == sampled
    assert e.lost == 0


def test_queue_cap_counts_dropped_not_lost_for_both_strategies():
    for strategy in ("oldest", "latest"):
        link = SecLink()
        q = MemoryOutbox(cap_items=3, strategy=strategy)
        clock, e = start_edge(link, q, Store(CFG10))
        run(e, clock, 80)  # offline 8 s: 8 rows, 3 kept
        assert q.dropped >= 4, strategy
        assert e.lost == 0, strategy
        link.connected = True
        e._on_state(True, "up")
        run(e, clock, 30)
        errs = []
        for s in sorted(link.points):
            d = json.loads(link.points[s])
            if "__error" in d:
                errs.append(d["__error"])
        assert errs, strategy
        assert "queue full" in errs[0]["001"] and "queue full" in errs[0]["002"], errs


def test_batch_message_stays_within_the_byte_limit():
    # board-sized: 40 reports of ~1.2 KB, messages of at most 8 KiB encoded
    link = SecLink()
    q = MemoryOutbox(cap_items=0)
    big = '{"001":"%s"}' % ("x,:" * 400)  # form encoding: ',' and ':' take 3 bytes
    for i in range(40):
        q.put(1700000000000000 + i * 1000000, big)
    clock, e = start_edge(link, q, Store(None), up=True, batch_items=10000, batch_bytes=4096,
                          message_bytes=8192)
    run(e, clock, 100)
    assert len(q) == 0
    from uedge.transport.http_form import record_body
    assert len(link.requests) > 2
    for entries in link.requests:
        assert len(record_body(entries)) <= 8192


def test_message_limit_defaults_to_64k_or_the_batch_bytes():
    for bb, want in ((4096, 65536), (49152, 65536), (262144, 262144)):
        _clock, e = start_edge(SecLink(), MemoryOutbox(cap_items=0), Store(None), batch_bytes=bb)
        assert e.message_bytes == want, (bb, e.message_bytes)


class UsLink(SecLink):
    record_ts_divisor = 1  # $resource.batch (MQTT): microsecond timestamps


def test_mqtt_batch_message_stays_within_the_byte_limit():
    from uedge.transport.murano_mqtt import batch_payload

    link = UsLink()
    q = MemoryOutbox(cap_items=0)
    small = '{"001":1,"002":"a\\"b"}'  # small reports: the per-entry overhead dominates
    for i in range(150):
        q.put(1700000000000000 + i * 1000, small)
    clock, e = start_edge(link, q, Store(None), up=True, batch_items=10000, batch_bytes=2048,
                          message_bytes=4096)
    run(e, clock, 300)
    assert len(q) == 0 and len(link.requests) > 2
    for entries in link.requests:
        assert len(batch_payload(entries)) <= 4096


def test_first_point_goes_at_once_and_the_rest_of_its_second_counts_as_merged():
    link = SecLink()
    clock, e = start_edge(link, MemoryOutbox(cap_items=0), Store(CFG10), up=True)
    t0 = clock.epoch_us()
    run(e, clock, 2)  # 200 ms: the first second is not over
    assert clock.epoch_us() // 1000000 == t0 // 1000000
    assert len(link.requests) == 1 and len(link.points) == 1  # sent before its second ended
    run(e, clock, 40)
    clock.advance(1000)
    run(e, clock, 2, 0)
    a = _stored(link, "001")
    secs = [s for s, _v in a]
    assert secs == sorted(set(secs))  # one point per second, in order
    sampled = max(v for _s, v in a) + 1
    assert len(a) + e.merged_by_channel["001"] == sampled
    assert e.conflicts == 0 and e.lost == 0
