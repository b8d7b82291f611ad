"""The per-channel pipeline: convert a raw sample, fold it into the report
window, and decide what (if anything) to report at the end of the window.

Order of operations for numeric channels (documented in docs/core.md); the
window keeps raw numbers and steps 1-2 run once per report, which gives the
same result because they are affine:
  1. input_raw mapping: raw in [input_raw.min, input_raw.max] is mapped
     linearly onto [properties.min, properties.max] (a decreasing mapping when
     input_raw.min > input_raw.max is fine; values outside extrapolate);
  2. value * multiplier + offset;
  3. down_sample over the report window (MIN, MAX, AVG, ACT = last sample);
  4. precision rounding (precision 0 reports integers);
  5. report_on_change filter (first value after start always reported).

The window keeps only the statistic its mode needs (running min, max or sum,
count, last value), no lists: an integer sample allocates nothing at all.
"""

from uedge.pipeline.values import (
    KIND_BOOLEAN,
    KIND_NUMBER,
    kind_of,
    rounded,
)

_BAD = object()  # "conversion failed" marker
_INF = float("inf")
_NINF = -_INF


class Channel:
    """Runtime state of one channel: conversion, window, report decision.

    Defaults are class attributes; an instance stores what differs or changed
    (a smaller attribute table per channel on a board: a MicroPython instance
    with up to 12 attributes has a 12-slot table, 13-17 take 17 slots, 18-23
    take 23, 8 bytes each). So a window keeps only the statistic its mode
    needs, `reported`/`last_reported` exist only for report_on_change, and an
    attribute that is None stays unset until it is not."""

    kind = KIND_NUMBER
    mode = 0  # down_sample: 0 ACT, 1 MIN, 2 MAX, 3 AVG
    converts = False  # value = raw * scale + bias (input_raw mapping, then multiplier/offset)
    scale = 1.0
    bias = 0.0
    precision = None
    on_change = False
    tolerance = 0
    timeout = None
    # window
    n = 0
    wmin = 0
    wmax = 0
    wsum = 0
    wlast = None  # ACT and non-numeric windows only
    werr = None  # message of the last failed sample, cleared by a good one
    cerr = None
    reported = False  # report_on_change only
    last_reported = None
    last_value = None  # state() bookkeeping
    last_ts_us = None
    last_error = None
    plain = 0  # a number reported as sampled (ACT, no conversion): the fast path (1 or 2)

    def __init__(self, cfg, now_ms=0):
        self.cfg = cfg
        self.id = cfg.id
        kind = kind_of(cfg)
        if kind != KIND_NUMBER:
            self.kind = kind
        # Linear conversion folded into one scale and one bias.
        scale = 1.0
        bias = 0.0
        converts = False
        if cfg.input_raw_min is not None and cfg.min is not None and cfg.max is not None:
            scale = (cfg.max - cfg.min) / (cfg.input_raw_max - cfg.input_raw_min)
            bias = cfg.min - cfg.input_raw_min * scale
            converts = True
        if cfg.multiplier is not None:
            scale = scale * cfg.multiplier
            bias = bias * cfg.multiplier
            converts = True
        if cfg.offset is not None:
            bias = bias + cfg.offset
            converts = True
        if converts:
            self.converts = True
            self.scale = scale
            self.bias = bias
        if cfg.precision is not None:
            self.precision = cfg.precision
        ds = cfg.down_sample
        mode = 0 if ds == "ACT" else 1 if ds == "MIN" else 2 if ds == "MAX" else 3
        # The window holds raw numbers and the (affine) conversion is applied
        # once per report: MIN/MAX/AVG commute with it, except that a negative
        # scale turns the raw maximum into the converted minimum.
        if kind == KIND_NUMBER and converts and scale < 0 and mode in (1, 2):
            mode = 3 - mode
        if mode:
            self.mode = mode
        if cfg.report_on_change:
            self.on_change = True
        if cfg.report_on_change_tolerance:
            self.tolerance = cfg.report_on_change_tolerance
        if cfg.timeout is not None:
            self.timeout = cfg.timeout
        if kind == KIND_NUMBER and not converts and mode == 0:
            # 2: nothing else decides its report either (no report_on_change,
            # no timeout): the scheduler reports it inline
            self.plain = 1 if cfg.report_on_change or cfg.timeout is not None else 2
        self.last_ok_ms = now_ms  # timeout counts from start
        self.next_sample = now_ms
        self.next_report = now_ms

    # -- sampling --------------------------------------------------------

    def convert(self, raw):
        """Return (value, None) or (None, message). For control echoes and tests."""
        v = self._convert(raw)
        if v is _BAD:
            return None, self.cerr
        if self.kind == KIND_NUMBER and self.converts:
            v = v * self.scale + self.bias
        return v, None

    def _convert(self, raw):
        # Hot path: returns the value or _BAD (message in self.cerr), so a
        # sample allocates no tuple. A finite int or float of a numeric
        # channel is kept as it is (scaled at report time, see window_value);
        # any other value or kind is read by uedge.pipeline.convert, loaded
        # the first time one comes (a board's numeric channels never load it).
        if self.kind == KIND_NUMBER:
            t = type(raw)
            if t is int or (t is float and raw == raw and raw != _INF and raw != _NINF):
                return raw
        from uedge.pipeline import convert

        return convert.convert(self, raw, _BAD)

    def sample(self, raw, now_ms):
        """Fold one raw sample into the window; return an error message or None."""
        if self.plain:
            # a finite int or float is kept as it is (what _convert and the
            # ACT window do, without the calls); comparisons allocate nothing
            t = type(raw)
            if t is int or (t is float and raw == raw and raw != _INF and raw != _NINF):
                if self.werr is not None:
                    self.werr = None
                self.last_ok_ms = now_ms
                self.n += 1
                self.wlast = raw
                return None
        v = self._convert(raw)
        if v is _BAD:
            self.werr = self.cerr
            return self.cerr
        if self.werr is not None:
            self.werr = None
        self.last_ok_ms = now_ms
        m = self.mode
        if m != 0 and (self.kind == KIND_NUMBER or self.kind == KIND_BOOLEAN):
            # only the statistic the mode needs is kept (no wlast)
            if m == 3:
                self.wsum = v if self.n == 0 else self.wsum + v
            elif m == 1:
                if self.n == 0 or v < self.wmin:
                    self.wmin = v
            elif self.n == 0 or v > self.wmax:
                self.wmax = v
            self.n += 1
            return None
        self.n += 1
        self.wlast = v
        return None

    def fail(self, message, now_ms):
        self.werr = message

    # -- reporting -------------------------------------------------------

    def window_value(self):
        """Down-sampled value of the current window (call only when n > 0)."""
        m = self.mode
        if m == 0:
            v = self.wlast
        elif self.kind == KIND_NUMBER:
            if m == 1:
                v = self.wmin
            elif m == 2:
                v = self.wmax
            else:
                v = self.wsum if self.n == 1 else self.wsum / self.n
        elif self.kind == KIND_BOOLEAN:
            if m == 1:
                v = bool(self.wmin)
            elif m == 2:
                v = bool(self.wmax)
            else:
                v = self.wsum if self.n == 1 else self.wsum * 2 >= self.n  # majority, ties count as true
        else:
            v = self.wlast
        if self.kind == KIND_NUMBER:
            if self.converts:
                v = v * self.scale + self.bias
            if type(v) is float and (v != v or v == _INF or v == _NINF):
                return _BAD  # overflowed: JSON cannot carry it
            if self.precision is not None:
                v = rounded(v, self.precision)
        return v

    def report(self, now_ms, ts_us, values, errors):
        """End the window: put the value and/or error into values/errors."""
        wrote = False
        if self.n == 0:
            v = _BAD
        elif self.plain:
            # window_value() of a plain number: the last sample, rounded
            v = self.wlast
            if self.precision is not None:
                v = rounded(v, self.precision)
        else:
            v = self.window_value()
        if v is _BAD and self.n > 0:
            self.werr = "value out of range after conversion"
            self.n = 0
        if v is not _BAD:
            send = True
            if self.on_change and self.reported:
                last = self.last_reported
                if self.kind == KIND_NUMBER and last is not None:
                    d = v - last
                    if d < 0:
                        d = -d
                    send = d > self.tolerance if self.tolerance else v != last
                else:
                    send = v != last
            if send:
                values[self.id] = v
                if self.on_change:
                    self.reported = True
                    self.last_reported = v
                wrote = True
            self.last_value = v
            self.last_ts_us = ts_us
            self.n = 0
        err = self.werr
        if err is None and self.timeout is not None and now_ms - self.last_ok_ms >= self.timeout:
            err = "timeout: no value for %d ms" % (now_ms - self.last_ok_ms)
        if err is not None:
            errors[self.id] = err
            wrote = True
        if err is not None or self.last_error is not None:
            self.last_error = err
        if self.werr is not None:
            self.werr = None
        return wrote
