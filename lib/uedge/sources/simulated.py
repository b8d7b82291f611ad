"""Simulated application: deterministic signals for demos, tests and dry runs.

protocol_config.application = "Simulated"; app_specific_config picks the
function (default "sine"):

  sine     period_ms (60000), amplitude (1), offset (0), phase_ms (0)
  square   period_ms (60000), low (0), high (1), duty (0.5)
  random   min (0), max (1), seed (1)   -- same sequence on every runtime
           (xorshift16: small ints only, no bignum on a 32-bit board)
  counter  start (0), step (1)          -- start, start+step, ... per read
  step     initial (0)                  -- writable: reads return the last write
  echo     same as step
  text     values (list of strings)     -- cycles through them per read

Time comes from self.now_ms, which the scheduler sets before each
read_many()/write(), so the signal is a pure function of the clock.
Each read allocates as little as it can (a board boxes every float): the
constants of a signal are worked out once per channel.
"""

import math

from uedge.sources import Source, SourceError, read_into, register

_FUNCS = ("sine", "square", "random", "counter", "step", "echo", "text")
_NUMS = {
    "sine": ("period_ms", "amplitude", "offset", "phase_ms"),
    "square": ("period_ms", "low", "high", "duty"),
    "random": ("min", "max", "seed"),
    "counter": ("start", "step"),
    "step": (),
    "echo": (),
    "text": (),
}


def _num(v):
    return v is not True and v is not False and isinstance(v, (int, float))


class _State:
    def __init__(self, asc):
        self.fn = asc.get("function", "sine")
        g = asc.get
        self.period = g("period_ms", 60000)
        self.amplitude = g("amplitude", 1)
        self.offset = g("offset", 0)
        self.phase = g("phase_ms", 0)
        self.low = g("low", 0)
        self.high = g("high", 1)
        self.duty = g("duty", 0.5)
        self.lo = g("min", 0)
        self.hi = g("max", 1)
        self.rng = (int(g("seed", 1)) & 0xFFFF) or 1
        # worked out once: a read then costs one or two float objects
        self.k = 2 * math.pi / self.period if self.period else 0.0
        self.duty_ms = self.duty * self.period
        self.scale = (self.hi - self.lo) / 65536.0
        self.count = g("start", 0)
        self.step = g("step", 1)
        self.value = g("initial", 0)
        self.values = g("values", ["a"])
        self.idx = 0
        self.sine = self.fn == "sine"


class SimulatedSource(Source):
    writable = True

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        self.now_ms = 0

    @classmethod
    def check_channel(cls, channel_id, asc):
        fn = asc.get("function", "sine")
        if fn not in _FUNCS:
            return 'app_specific_config.function must be one of %s, got "%s"' % (", ".join(_FUNCS), fn)
        for k in _NUMS[fn]:
            if k in asc and not _num(asc[k]):
                return "app_specific_config.%s must be a number, got %r" % (k, asc[k])
        if fn in ("sine", "square") and "period_ms" in asc and asc["period_ms"] <= 0:
            return "app_specific_config.period_ms must be positive, got %r" % asc["period_ms"]
        if fn == "random" and asc.get("min", 0) > asc.get("max", 1):
            return "app_specific_config.min must not exceed max"
        if fn == "text":
            vs = asc.get("values", ["a"])
            if not isinstance(vs, list) or not vs:
                return "app_specific_config.values must be a non-empty list"
        return None

    def _state(self, channel):
        st = channel.source_state
        if st is None:
            asc = channel.app_specific_config or {}
            msg = self.check_channel(channel.id, asc)
            if msg:
                raise SourceError(msg)
            st = _State(asc)
            channel.source_state = st
        return st

    def read_many(self, channels, values, errors):
        # sine channels (the common case) inline: one loop, no call per channel
        t = self.now_ms
        sin = math.sin
        for ch in channels:
            st = ch.source_state
            if st is not None and st.sine:
                v = sin(st.k * ((t + st.phase) % st.period))
                if st.amplitude != 1:
                    v = st.amplitude * v
                values[ch.id] = st.offset + v if st.offset else v
                continue
            read_into(self, ch, values, errors)

    def read(self, channel):
        st = self._state(channel)
        fn = st.fn
        t = self.now_ms
        if fn == "sine":
            v = math.sin(st.k * ((t + st.phase) % st.period))
            if st.amplitude != 1:
                v = st.amplitude * v
            return st.offset + v if st.offset else v
        if fn == "square":
            return st.high if (t + st.phase) % st.period < st.duty_ms else st.low
        if fn == "random":
            # xorshift16 (7, 9, 8): identical on CPython and MicroPython
            r = st.rng
            r ^= (r << 7) & 0xFFFF
            r ^= r >> 9
            r ^= (r << 8) & 0xFFFF
            st.rng = r
            v = r * st.scale
            return st.lo + v if st.lo else v
        if fn == "counter":
            v = st.count
            st.count = v + st.step
            return v
        if fn == "text":
            v = st.values[st.idx % len(st.values)]
            st.idx += 1
            return v
        return st.value  # step / echo

    def write(self, channel, value):
        st = self._state(channel)
        if st.fn not in ("step", "echo"):
            raise SourceError('function "%s" is not writable (use step or echo)' % st.fn)
        st.value = value


register("Simulated", SimulatedSource)
