"""How live reports gather before they are sent (a part of Edge): the reports
held during the first connect attempt here; record slots (a coarse record
API: uedge.sync.record_slots) and live batches (uedge.sync.live_batch) in
modules of their own, loaded the first time a report gathers that way. A
board's MQTT loop loads neither.
"""

from uedge.compat import MICROPYTHON, json
from uedge.pipeline.payload import encode_data_in

if not MICROPYTHON:  # exact message costs; a board does without (heap)
    from uedge.transport.http_form import quote_plus


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
            from uedge.sync import record_slots

            record_slots.add(self, ts_us, values, errors, now)
        elif self.live_batch_ms:
            from uedge.sync import live_batch

            # a control echo (an actuated state) or an __error goes at once
            live_batch.add(self, ts_us, encode_data_in(values, errors), now, echo or bool(errors))
        else:
            self._send_live(ts_us, encode_data_in(values, errors), now)

    def _gather_step(self, now):
        """Send what gathered (a record slot, a live batch) once it is due."""
        if self._slot is not None:
            from uedge.sync import record_slots

            record_slots.step(self, now)
        if self._batch is not None:
            from uedge.sync import live_batch

            live_batch.step(self, now)

    def _gather_wake_ms(self, now):
        """When a gathered record slot or live batch is due (None: nothing gathers)."""
        if self._slot is not None:
            from uedge.sync import record_slots

            return record_slots.wake_ms(self, now)
        if self._batch is not None:
            from uedge.sync import live_batch

            return live_batch.wake_ms(self)
        return None

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
        """Send exactly these queued rows. Rows of one record slot (res > 1, or
        two of one microsecond) are merged into one point (record_slots)."""
        entries = []
        keys = []
        secs = {}
        prev = None
        for key, ts_us, payload in batch:
            if res > 1 or ts_us == prev:
                from uedge.sync import record_slots

                return record_slots.replay_send(self, now, batch, res)
            prev = ts_us
            entries.append((ts_us, {"data_in": payload}))
            keys.append(key)
            secs[ts_us] = True
        self._send_batch(now, entries, keys, (0, 0, {}), secs)
