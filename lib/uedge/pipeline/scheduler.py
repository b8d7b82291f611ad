"""The cooperative sampling/reporting loop of the edge client.

One Scheduler owns every channel of the current config_io. poll(now_ms)
samples the channels whose sample instant has come (grouped per source, one
read_many per source so fieldbus sources can coalesce requests), ends the
report windows that are due, and returns ONE merged Report for that instant.

Time only comes from the clock passed in (or the now_ms given to poll), so a
FakeClock drives an hour of schedule in milliseconds.
"""

from uedge.compat import release
from uedge.pipeline.values import ROUND_DIGITS, round_float
from uedge.sources import BACKOFF_MAX_MS, BACKOFF_MIN_MS, default_open_source, error_text  # noqa: F401

_INF = float("inf")
_NINF = -_INF


class Report:
    """One data_in worth of values and __error entries for one instant."""

    def __init__(self):
        self.ts_us = 0
        self.now_ms = 0
        self.values = {}
        self.errors = {}
        self.echo = False  # it answers a data_out (the states actuated): sent at once

    def __repr__(self):
        return "<Report %d values=%r errors=%r>" % (self.ts_us, self.values, self.errors)


def _advance(due, rate, now):
    # Stay on the grid started at apply(); skip instants missed by a late poll.
    due += rate
    if due <= now:
        due += ((now - due) // rate + 1) * rate
    return due


class Scheduler:
    def __init__(self, clock, open_source=None, reuse_report=False):
        self.clock = clock
        self._open_source = open_source or default_open_source
        self.config_io = None
        self.config_applications = None
        self.channels = {}  # id -> Channel
        self._order = []  # Channel objects in config order
        self._slots = []
        self._pending = {}  # actuated states to report on the next poll
        self._next_due = None
        self._next_report = None
        self._reuse = reuse_report
        self._report = Report()

    # -- configuration ---------------------------------------------------

    def apply(self, config_io, config_applications=None):
        """Switch to a new config_io live. Returns the ConfigIO in use.

        Unchanged channels keep their schedule and window; changed or new
        channels start now (sample and report at once). A source is reopened
        only when its (application, interface, app_config) changed, and is
        closed when no channel uses it any more. config_applications=None
        keeps the previous one. Raises ConfigError for an invalid document
        (and then changes nothing).
        """
        # uedge.pipeline.apply: loaded for it and released after (a board's
        # steady loop does not hold the code that builds the channels)
        from uedge.pipeline import apply

        try:
            return apply.apply(self, config_io, config_applications)
        finally:
            release("uedge.pipeline.apply")

    def close(self):
        for s in self._slots:
            s.close()

    # -- loop ------------------------------------------------------------

    def next_due_ms(self):
        """Monotonic ms of the next instant poll() has work, or None."""
        if self._pending:
            return self.clock.now_ms()
        return self._next_due

    def next_report_ms(self):
        """Monotonic ms of the next report instant (any channel), or None."""
        return self._next_report

    def _recompute(self):
        nd = None
        nr = None
        for ch in self._order:
            r = ch.next_report
            t = ch.next_sample if ch.next_sample < r else r
            if nd is None or t < nd:
                nd = t
            if nr is None or r < nr:
                nr = r
        self._next_due = nd
        self._next_report = nr

    def poll(self, now_ms=None):
        """Run what is due at now_ms; return a Report or None.

        With reuse_report=True the same Report (and dicts) come back every
        time: encode it before polling again.
        """
        now = self.clock.now_ms() if now_ms is None else now_ms
        nd = self._next_due
        if not self._pending:
            if nd is None or now < nd:
                return None
            if now < self._next_report:
                # only samples are due: no Report to build
                for slot in self._slots:
                    self._sample_slot(slot, now)
                self._recompute()
                return None
        if self._reuse:
            rep = self._report
            rep.values.clear()
            rep.errors.clear()
        else:
            rep = Report()
        ts = self.clock.epoch_us()
        rep.ts_us = ts
        rep.now_ms = now
        rep.echo = bool(self._pending)  # this report answers a data_out
        if nd is not None and now >= nd:
            for slot in self._slots:
                self._sample_slot(slot, now)
            values = rep.values
            errors = rep.errors
            # one pass: end the due windows and find the next instants
            # (what _recompute does, without a second loop over the channels)
            nd = None
            nr = None
            for ch in self._order:
                r = ch.next_report
                if r <= now:
                    if ch.plain == 2 and ch.n and ch.werr is None:
                        # Channel.report() of a plain number with a sample and
                        # nothing else to decide (no report_on_change, no
                        # timeout: plain 2), inline (the hot path)
                        v = ch.wlast
                        p = ch.precision
                        if p is not None:
                            if p == 0:
                                v = int(round(v))
                            elif p < ROUND_DIGITS and type(v) is float:
                                v = round_float(v, p)
                            else:
                                v = round(v, p)
                        values[ch.id] = v
                        ch.last_value = v
                        ch.last_ts_us = ts
                        ch.n = 0
                        if ch.last_error is not None:
                            ch.last_error = None
                    else:
                        ch.report(now, ts, values, errors)
                    r += ch.cfg.report_rate
                    if r <= now:
                        r = _advance(ch.next_report, ch.cfg.report_rate, now)
                    ch.next_report = r
                t = ch.next_sample
                if r < t:
                    t = r
                if nd is None or t < nd:
                    nd = t
                if nr is None or r < nr:
                    nr = r
            self._next_due = nd
            self._next_report = nr
        if self._pending:
            for cid in self._pending:
                rep.values[cid] = self._pending[cid]
                if cid in rep.errors:
                    del rep.errors[cid]
            self._pending.clear()
        if not rep.values and not rep.errors:
            return None
        return rep

    def _sample_slot(self, slot, now):
        # slot.lo / slot.hi: the earliest and latest next_sample of its
        # channels. Before lo nothing is due; from hi on all are, and the due
        # list (slot.full) is the whole slot: no pass over its channels to
        # find them. Otherwise the slot's reused list of due channels is
        # refilled in place (no slice, no new list). A channel is due while
        # next_sample <= now: its next_sample only moves after the read.
        if now < slot.lo:
            return
        due = slot.due
        chans = slot.channels
        every = now >= slot.hi
        if every:
            if not slot.full:
                del due[:]
                for ch in chans:
                    due.append(ch.cfg)
                slot.full = True
        else:
            k = 0
            ln = len(due)
            for ch in chans:
                if ch.next_sample <= now:
                    if k < ln:
                        due[k] = ch.cfg
                    else:
                        due.append(ch.cfg)
                    k += 1
            if k == 0:
                return
            while len(due) > k:
                due.pop()
            slot.full = False
        src = slot.ensure_open(now, self._open_source)
        vals = slot.vals
        errs = slot.errs
        vals.clear()
        errs.clear()
        failed = None
        if src is None:
            failed = slot.error
        else:
            src.now_ms = now
            try:
                src.read_many(due, vals, errs)
                slot.backoff = 0  # backoff only resets once the source works
            except Exception as e:
                failed = "%s read failed: %s" % (slot.label(), error_text(e))
                slot.error = failed
                slot.close()  # reopen (with backoff) on the next due instant
                slot.failed_at(now)
        lo = hi = None
        for ch in chans:
            if not every and ch.next_sample > now:
                t = ch.next_sample
                if lo is None or t < lo:
                    lo = t
                if hi is None or t > hi:
                    hi = t
                continue
            cid = ch.id
            if failed is not None:
                ch.fail(failed, now)
            elif cid in vals:
                raw = vals[cid]
                t = type(raw)
                if ch.plain and (t is int or (t is float and raw == raw and raw != _INF and raw != _NINF)):
                    # Channel.sample() of a plain number, inline (the hot path)
                    if ch.werr is not None:
                        ch.werr = None
                    ch.last_ok_ms = now
                    ch.n += 1
                    ch.wlast = raw
                else:
                    ch.sample(raw, now)
            elif cid in errs:
                ch.fail(str(errs[cid]), now)
            t = ch.next_sample + ch.cfg.sample_rate
            if t <= now:
                t = _advance(ch.next_sample, ch.cfg.sample_rate, now)
            ch.next_sample = t
            if lo is None or t < lo:
                lo = t
            if hi is None or t > hi:
                hi = t
        slot.lo = lo
        slot.hi = hi

    # -- control ---------------------------------------------------------

    def actuate(self, channel_id, value):
        """Write a data_out request through the channel's source
        (uedge.pipeline.control, loaded with a request only). Returns None
        on success (the new state is reported by the next poll) or an error
        message."""
        from uedge.pipeline.control import actuate

        return actuate(self, channel_id, value)

    def push(self, channel_id, raw, now_ms=None):
        """Feed a sample from outside the sources (e.g. device diagnostics)."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return "unknown channel %s" % channel_id
        return ch.sample(raw, self.clock.now_ms() if now_ms is None else now_ms)

    def state(self, channel_id):
        """(last_value, last_ts_us, last_error) of a channel."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return (None, None, "unknown channel %s" % channel_id)
        return (ch.last_value, ch.last_ts_us, ch.last_error)

