"""Live batches (a part of Edge, uedge.sync.slots), MQTT $resource.batch with
microsecond timestamps. Loaded when Edge(live_batch_ms=...) first reports; a
board's default (0) never loads it.

A live report whose successor is due within live_batch_ms waits for it: both
(or more) go in one message, each with its own timestamp, so one publish and
one acknowledgement serve several reports. A report waits at most
live_batch_ms; the first one after start goes at once, and so does one that
answers a data_out (the state actuated) or carries an __error, with those
waiting before it.

Each function takes the Edge (e): e._batch is [(ts_us, payload)] while
reports wait, else None; e._batch_ms when the first of them came.
"""


def batchable(e):
    return e._held is None and e._live_room() and e.live_timestamps and e._clock_set()


def add(e, ts_us, payload, now, urgent=False):
    b = e._batch
    nxt = None if urgent else e.scheduler.next_report_ms()
    cost = 2 * len(payload) + 64  # a bound of its size in the message (JSON string, entry)
    if b is None:
        # one that leaves no room for a report like it goes at once too
        if (e._batch_early or nxt is None or nxt - now > e.live_batch_ms
                or 2 * cost > e.message_bytes or not batchable(e)):
            e._batch_early = False
            e._send_live(ts_us, payload, now)
            return
        e._batch = [(ts_us, payload)]
        e._batch_ms = now
        e._batch_cost = cost
        return
    if e._batch_cost + cost > e.message_bytes:
        flush(e, now)
        add(e, ts_us, payload, now, urgent)
        return
    b.append((ts_us, payload))
    e._batch_cost += cost
    if nxt is None or nxt - e._batch_ms > e.live_batch_ms or len(b) >= e.batch_items:
        flush(e, now)


def flush(e, now):
    b = e._batch
    e._batch = None
    if not b:
        return
    if len(b) > 1 and batchable(e):
        e._transmit(b[0][0], b[0][1], b[1:], now)
        return
    for ts_us, payload in b:  # each the usual way (in the queue when offline)
        e._send_live(ts_us, payload, now)


def step(e, now):
    if e._batch is not None and (now - e._batch_ms >= e.live_batch_ms or not e.connected):
        flush(e, now)


def wake_ms(e):
    return e._batch_ms + e.live_batch_ms if e._batch is not None else None
