"""Record slots (a part of Edge, uedge.sync.slots): one data_in point per slot
of a coarse record API. Loaded when a transport with one (HTTP) first reports.

The HTTP record API takes whole-second timestamps and keeps one value per
alias and second. Reports of one second are merged into one point: the later
value of a channel wins, __error entries are combined, and every channel
value replaced that way is counted (Edge.merged, per channel in
merged_by_channel). Live reports are gathered per slot and sent once the slot
is over, but for the first one after start, sent at once (the rest of its
second is counted as merged); queued ones are merged when a replay batch is
built (replay_send), a batch never ending in the middle of a slot.

Each function takes the Edge (e) whose slot state it works on: e._slot is
[slot, ts_us, values, errors, n reports] while one is gathered, else None.
"""

from uedge.compat import json
from uedge.pipeline.payload import encode_data_in

_SEP = (",", ":")


def merge(into, d, counts):
    """Merge report dict d into `into`; count replaced channel values -> n replaced."""
    eb = d.get("__error")
    n = 0
    for k in d:
        if k == "__error":
            continue
        if k in into:
            n += 1
            if counts is not None:
                counts[k] = counts.get(k, 0) + 1
        into[k] = d[k]
    if eb:
        ea = into.get("__error")
        err = {}
        for x in (ea, eb):
            if isinstance(x, dict):
                for k in x:
                    err[k] = x[k]
        into["__error"] = err
    return n


def add(e, ts_us, values, errors, now):
    """A live report into its slot (the one gathered is sent when another begins)."""
    sid = ts_us // e.record_res_us
    if sid == e._slot_sent and not errors:
        # that second's point went early: these samples have no point of their own
        counts = e.merged_by_channel
        for k in values:
            counts[k] = counts.get(k, 0) + 1
        e.merged += len(values)
        e.merged_reports += 1
        return
    s = e._slot
    if s is not None and s[0] != sid:
        flush(e, now)
        s = None
    if s is None:
        v = {}
        for k in values:
            v[k] = values[k]
        e._slot = [sid, ts_us, v, dict(errors) if errors else None, 1]
        return
    e.merged += merge(s[2], values, e.merged_by_channel)
    e.merged_reports += 1
    s[4] += 1
    if errors:
        x = s[3] if s[3] is not None else {}
        for k in errors:
            x[k] = errors[k]
        s[3] = x


def flush(e, now):
    s = e._slot
    e._slot = None
    if s is not None:
        e._send_live(s[1], encode_data_in(s[2], s[3]), now)


def step(e, now):
    """Send the gathered slot once its second is over (the very first one at once)."""
    s = e._slot
    if s is None:
        return
    if e._slot_early and e.connected:
        e._slot_early = False
        e._slot_sent = s[0]
        flush(e, now)
    elif e.clock.epoch_us() // e.record_res_us > s[0]:
        flush(e, now)


def wake_ms(e, now):
    s = e._slot
    if s is None:
        return None
    left_us = (s[0] + 1) * e.record_res_us - e.clock.epoch_us()
    return now + (left_us // 1000 if left_us > 0 else 0) + 1


def replay_send(e, now, batch, res):
    """Merge and send exactly these queued rows (whole slots of res microseconds)."""
    records = []
    counts = {}
    nmerged = 0
    nrep = 0
    keys = []
    for key, ts_us, payload in batch:
        if records and records[-1][0] // res == ts_us // res:
            rec = records[-1]
            if isinstance(rec[1], str):
                rec[1] = _loads(rec[1])
            d = _loads(payload)
            if rec[1] is not None and d is not None:
                nmerged += merge(rec[1], d, counts)
            elif d is not None:
                rec[1] = d
            nrep += 1
        else:
            records.append([ts_us, payload])
        keys.append(key)
    entries = []
    secs = {}
    for rec in records:
        v = rec[1]
        if not isinstance(v, str):
            v = json.dumps(v, separators=_SEP) if v is not None else "{}"
        entries.append((rec[0], {"data_in": v}))
        secs[rec[0] // res] = True
    e._send_batch(now, entries, keys, (nrep, nmerged, counts), secs)


def _loads(text):
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None
