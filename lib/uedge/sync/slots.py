"""Record slots: one data_in point per slot of a coarse record API (a part of Edge).

The HTTP record API takes whole-second timestamps and keeps one value per
alias and second. Reports of one second are merged into one point: the later
value of a channel wins, __error entries are combined, and every channel
value replaced that way is counted (Edge.merged, per channel in
merged_by_channel). Live reports are gathered per slot and sent once the slot
is over (Slots._slot_*), but for the first one after start, sent at once (the
rest of its second is counted as merged); queued ones are merged when a replay batch is built
(_replay_send), a batch never ending in the middle of a slot.
"""

from uedge.compat import MICROPYTHON, json
from uedge.pipeline.payload import encode_data_in

if not MICROPYTHON:  # exact message costs; a board does without (heap)
    from uedge.transport.http_form import quote_plus

_SEP = (",", ":")


def merge_reports(a, b):
    """Two data_in reports of one record slot as one (the HTTP record API keeps
    one value per second): the later value of a channel wins."""
    try:
        da = json.loads(a)
        db = json.loads(b)
    except ValueError:
        return b
    if not isinstance(da, dict) or not isinstance(db, dict):
        return b
    _merge(da, db, None)
    return json.dumps(da, separators=_SEP)


def _merge(into, d, counts):
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
        for e in (ea, eb):
            if isinstance(e, dict):
                for k in e:
                    err[k] = e[k]
        into["__error"] = err
    return n


def message_cost(payload, form):
    """Bytes one queued report adds to a replay message: form-encoded (HTTP
    record) or as a JSON string in $resource.batch (MQTT), with the entry's
    own overhead. Exact on CPython (one C call each); on MicroPython counted
    from the characters JSON numbers and plain strings use."""
    if not MICROPYTHON:
        if form:
            return len(quote_plus(payload)) + 24
        return len(json.dumps(payload)) + 62
    if form:
        c = payload.count
        n = (c('"') + c(":") + c(",") + c("{") + c("}") + c("[") + c("]") + c("\\") + c("/")
             + c("%") + c("&") + c("+") + c("="))
        return len(payload) + 2 * n + 24
    return len(payload) + payload.count('"') + payload.count("\\") + 64


class Slots:
    # -- reports from the loop --------------------------------------------------
    def _report(self, ts_us, values, errors, now):
        res = self.record_res_us
        if res > 1 and self.live_timestamps and self._clock_set():
            self._slot_add(ts_us, values, errors, now)
        else:
            self._send_live(ts_us, encode_data_in(values, errors), now)

    def _slot_add(self, ts_us, values, errors, now):
        sid = ts_us // self.record_res_us
        if sid == self._slot_sent and not errors:
            # that second's point went early: these samples have no point of their own
            counts = self.merged_by_channel
            for k in values:
                counts[k] = counts.get(k, 0) + 1
            self.merged += len(values)
            self.merged_reports += 1
            return
        s = self._slot
        if s is not None and s[0] != sid:
            self._slot_flush(now)
            s = None
        if s is None:
            v = {}
            for k in values:
                v[k] = values[k]
            self._slot = [sid, ts_us, v, dict(errors) if errors else None, 1]
            return
        n = _merge(s[2], values, self.merged_by_channel)
        self.merged += n
        self.merged_reports += 1
        s[4] += 1
        if errors:
            e = s[3] if s[3] is not None else {}
            for k in errors:
                e[k] = errors[k]
            s[3] = e

    def _slot_flush(self, now):
        s = self._slot
        self._slot = None
        if s is not None:
            self._send_live(s[1], encode_data_in(s[2], s[3]), now)

    def _slot_step(self, now):
        """Send the gathered slot once its second is over (the very first one at once)."""
        s = self._slot
        if s is None:
            return
        if self._slot_early and self.connected:
            self._slot_early = False
            self._slot_sent = s[0]
            self._slot_flush(now)
        elif self.clock.epoch_us() // self.record_res_us > s[0]:
            self._slot_flush(now)

    def _slot_wake_ms(self, now):
        s = self._slot
        if s is None:
            return None
        left_us = (s[0] + 1) * self.record_res_us - self.clock.epoch_us()
        return now + (left_us // 1000 if left_us > 0 else 0) + 1

    def _replay_send(self, now, batch, res):
        """Merge and send exactly these queued rows (whole slots)."""
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
                    nmerged += _merge(rec[1], d, counts)
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
        self._send_batch(now, entries, keys, (nrep, nmerged, counts), secs)


def _loads(text):
    try:
        d = json.loads(text)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None
