"""How live reports gather before they are sent (a part of Edge): record slots,
live batches, and the reports held during the first connect attempt.

Record slots: one data_in point per slot of a coarse record API.

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
    def _report(self, ts_us, values, errors, now, echo=False):
        """One report of the loop; echo: it answers a data_out (Report.echo)."""
        res = self.record_res_us
        if res > 1 and self.live_timestamps and self._clock_set():
            self._slot_add(ts_us, values, errors, now)
        elif self.live_batch_ms:
            # a control echo (an actuated state) or an __error goes at once
            self._batch_add(ts_us, encode_data_in(values, errors), now, echo or bool(errors))
        else:
            self._send_live(ts_us, encode_data_in(values, errors), now)

    # -- live batches (MQTT: $resource.batch, microsecond timestamps) ----------------
    # A live report whose successor is due within live_batch_ms waits for it:
    # both (or more) go in one message, each with its own timestamp, so one
    # publish and one acknowledgement serve several reports. A report waits at
    # most live_batch_ms; the first one after start goes at once, and so does
    # one that answers a data_out (the state actuated) or carries an __error,
    # with those waiting before it.
    def _batchable(self):
        return self._held is None and self._live_room() and self.live_timestamps and self._clock_set()

    def _batch_add(self, ts_us, payload, now, urgent=False):
        b = self._batch
        nxt = None if urgent else self.scheduler.next_report_ms()
        cost = 2 * len(payload) + 64  # a bound of its size in the message (JSON string, entry)
        if b is None:
            # one that leaves no room for a report like it goes at once too
            if (self._batch_early or nxt is None or nxt - now > self.live_batch_ms
                    or 2 * cost > self.message_bytes or not self._batchable()):
                self._batch_early = False
                self._send_live(ts_us, payload, now)
                return
            self._batch = [(ts_us, payload)]
            self._batch_ms = now
            self._batch_cost = cost
            return
        if self._batch_cost + cost > self.message_bytes:
            self._batch_flush(now)
            self._batch_add(ts_us, payload, now, urgent)
            return
        b.append((ts_us, payload))
        self._batch_cost += cost
        if nxt is None or nxt - self._batch_ms > self.live_batch_ms or len(b) >= self.batch_items:
            self._batch_flush(now)

    def _batch_flush(self, now):
        b = self._batch
        self._batch = None
        if not b:
            return
        if len(b) > 1 and self._batchable():
            self._transmit(b[0][0], b[0][1], b[1:], now)
            return
        for ts_us, payload in b:  # each the usual way (in the queue when offline)
            self._send_live(ts_us, payload, now)

    def _batch_step(self, now):
        if self._batch is not None and (now - self._batch_ms >= self.live_batch_ms or not self.connected):
            self._batch_flush(now)

    def _batch_wake_ms(self):
        return self._batch_ms + self.live_batch_ms if self._batch is not None else None

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

    # -- the first connect attempt ----------------------------------------------------
    # A gateway starts sampling at once and connects in a worker thread. The
    # reports of that first attempt are treated like in-flight ones (sent, not
    # acknowledged yet): held in memory, at most max_inflight of them, instead
    # of opening the durable queue for a few hundred milliseconds. They go out
    # live, in order, with their own timestamps once connected, and into the
    # queue at once when the attempt fails, the bound is reached, or the
    # daemon stops (SIGTERM). Like in-flight reports, a kill -9 during that
    # first attempt loses them (docs/edge.md).
    def _hold(self, ts_us, payload):
        """True when the report was held (the first attempt still runs)."""
        h = self._held
        if (not self.connected and self.reason == "starting" and not self._stopping
                and len(h) < self.max_inflight):
            h.append((ts_us, payload))
            return True
        self._release_held(self.clock.now_ms())
        return False

    def _held_step(self, now):
        """Release the held reports once the first attempt is over."""
        if self.connected or self.reason != "starting" or self._stopping:
            self._release_held(now)

    def _release_held(self, now):
        h = self._held
        self._held = None  # holding ends for good: later reports go the usual way
        if h:
            for ts_us, payload in h:
                self._send_live(ts_us, payload, now)

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
