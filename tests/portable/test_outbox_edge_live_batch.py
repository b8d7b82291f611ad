# Live batches (Edge live_batch_ms): a live report whose successor is due
# within live_batch_ms waits for it and both go in one $resource.batch
# message, each with its own timestamp; the first report after start goes at
# once; a report that cannot wait (slower rates, size) goes alone; a held
# report is never lost: offline, late acks and shutdown put it in the queue
# in order, and every sample reaches the link once.
import json

from uedge.outbox.memory import MemoryOutbox

from edge_rig import CFG, Link, Store, run, start_edge

CFG100 = CFG.replace('"sample_rate":1000', '"sample_rate":100').replace('"report_rate":1000', '"report_rate":100')


def _data(link):
    """[[(ts_us, counter value)] per data_in message] in the order sent."""
    out = []
    for _m, entries in link.sent:
        vals = [(ts, json.loads(v["data_in"])["001"]) for ts, v in entries if "data_in" in v]
        if vals:
            out.append(vals)
    return out


def test_reports_100_ms_apart_share_a_message():
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(CFG100), up=True, live_batch_ms=100)
    run(e, clock, 21)
    msgs = _data(link)
    assert [len(m) for m in msgs] == [1] + [2] * 10  # the first at once, then pairs
    flat = [x for m in msgs for x in m]
    assert [v for _ts, v in flat] == list(range(21))
    ts = [t for t, _v in flat]
    assert all(b - a == 100000 for a, b in zip(ts, ts[1:]))  # each its own sample time
    run(e, clock, 1)  # acknowledged; the 22nd report waits for the 23rd
    assert e.delivered == e.sent_live == 21 and not e._live and not e._live_more
    assert e.reports == 22 and len(e._batch) == 1


def test_off_or_slower_reports_go_alone():
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(CFG100), up=True)  # live_batch_ms 0: the default
    run(e, clock, 10)
    assert [len(m) for m in _data(link)] == [1] * 10
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(CFG), up=True, live_batch_ms=100)  # reports 1 s apart
    run(e, clock, 50)
    assert [len(m) for m in _data(link)] == [1] * 5
    # a batch stays within message_bytes (each report costed at 2 x its length + 64)
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(CFG100), up=True, live_batch_ms=300, message_bytes=150)
    run(e, clock, 10)
    assert [len(m) for m in _data(link)] == [1] * 10
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(CFG100), up=True, live_batch_ms=300)
    run(e, clock, 10)
    assert [len(m) for m in _data(link)] == [1, 4, 4]  # the first of each waits 300 ms, no more
    assert e.next_wake_ms(clock.now_ms()) <= clock.now_ms() + 100


def test_a_held_report_goes_to_the_queue_in_order_when_the_link_drops():
    link = Link()  # never acknowledges: everything stays in flight
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(CFG100), up=True, live_batch_ms=100)
    run(e, clock, 6)  # reports 0..5: 0 alone, (1, 2), (3, 4) sent, 5 held
    assert [len(m) for m in _data(link)] == [1, 2, 2]
    assert e._batch is not None and len(e._batch) == 1
    assert e.status()["inflight"] == 5
    link.connected = False
    e._on_state(False, "gone")
    assert e._batch is None and not e._live and not e._live_more
    queued = [(ts, json.loads(p)["001"]) for _k, ts, p in q.peek(100)]
    assert [v for _ts, v in queued] == [0, 1, 2, 3, 4, 5]
    assert [ts for ts, _v in queued] == sorted(ts for ts, _v in queued)
    link.sent = []
    link.ack_on_poll = True
    link.connected = True
    e._on_state(True, "back")
    run(e, clock, 40)
    got = {}
    for m in _data(link):
        for ts, v in m:
            got.setdefault(v, set()).add(ts)
    assert sorted(got)[:6] == [0, 1, 2, 3, 4, 5] and all(len(t) == 1 for t in got.values())
    assert len(q) == 0 and e.lost == 0


def test_late_ack_requeues_every_report_of_the_message_once():
    link = Link()
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(CFG100), up=True, live_batch_ms=100, ack_timeout_ms=1000)
    run(e, clock, 5)  # 0 alone, (1, 2), (3, 4)
    sent = [m for m in _data(link)]
    assert [len(m) for m in sent] == [1, 2, 2]
    run(e, clock, 12)  # past the ack timeout of the first three messages
    queued = [json.loads(p)["001"] for _k, _ts, p in q.peek(100)]
    assert queued[:5] == [0, 1, 2, 3, 4]
    assert e.queued >= 5 and e.lost == 0


def test_shutdown_sends_a_held_report():
    link = Link(ack_on_poll=True)
    q = MemoryOutbox()
    clock, e = start_edge(link, q, Store(CFG100), up=True, live_batch_ms=100)
    run(e, clock, 2)  # 0 alone, 1 held
    assert e._batch is not None
    e.shutdown(flush_ms=1000)  # still connected: it goes out, alone, and is acknowledged
    assert _data(link)[-1] == [(e.last_report_ts_us, 1)]
    assert e._batch is None and len(q) == 0 and e.lost == 0


def test_a_control_echo_or_an_error_goes_at_once_with_what_waits():
    cfg = json.loads(CFG100)
    cfg["channels"]["009"] = {"display_name": "T", "properties": {"data_type": "TEMPERATURE", "control": True},
                              "control_properties": {"range": {"min": 20, "max": 40}},
                              "protocol_config": {"report_rate": 60000}}
    link = Link(ack_on_poll=True)
    clock, e = start_edge(link, None, Store(json.dumps(cfg)), up=True, live_batch_ms=300)
    run(e, clock, 2)  # 0 at once, 1 waits (up to 300 ms)
    assert [len(m) for m in _data(link)] == [1] and len(e._batch) == 1
    link.on_update("data_out", '{"009":25}', None)
    run(e, clock, 1)  # the echo of 009 (with sample 2) goes now, report 1 with it
    sent = link.sent[-1][1]
    assert [json.loads(v["data_in"]).get("009") for _ts, v in sent] == [None, 25]
    assert e._batch is None
    run(e, clock, 1)  # 3 waits again
    assert len(e._batch) == 1
    e._errors["001"] = "a device error"
    run(e, clock, 1)  # the report with __error goes at once, 3 with it
    sent = link.sent[-1][1]
    assert "__error" in json.loads(sent[-1][1]["data_in"]) and len(sent) == 2
    assert e._batch is None and e.lost == 0
