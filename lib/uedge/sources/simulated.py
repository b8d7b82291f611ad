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


# A channel's state is one short tuple (fixed signals) or list (signals with
# state), [code, ...]: an instance with a dozen attributes costs a board
# ~250 bytes per channel, this 32-48. The constants of a signal are worked
# out once.
SINE, SQUARE, RANDOM, COUNTER, VALUE, TEXT = 0, 1, 2, 3, 4, 5


def _state(asc):
    fn = asc.get("function", "sine")
    g = asc.get
    if fn == "sine" or fn == "square":
        period = g("period_ms", 60000)
        phase = g("phase_ms", 0)
        if fn == "sine":
            # [SINE, 2 pi / period, phase, period, amplitude, offset]
            return (SINE, 2 * math.pi / period if period else 0.0, phase, period, g("amplitude", 1),
                    g("offset", 0))
        # [SQUARE, duty * period, phase, period, high, low]
        return (SQUARE, g("duty", 0.5) * period, phase, period, g("high", 1), g("low", 0))
    if fn == "random":
        lo = g("min", 0)
        # [RANDOM, min, (max - min) / 65536, xorshift16 state]
        return [RANDOM, lo, (g("max", 1) - lo) / 65536.0, (int(g("seed", 1)) & 0xFFFF) or 1]
    if fn == "counter":
        return [COUNTER, g("start", 0), g("step", 1)]  # [COUNTER, next value, step]
    if fn == "text":
        return [TEXT, g("values", ["a"]), 0]  # [TEXT, values, index]
    return [VALUE, g("initial", 0)]  # step / echo: [VALUE, last written]


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
            st = _state(asc)
            channel.source_state = st
        return st

    def read_many(self, channels, values, errors):
        # sine channels (the common case) inline: one loop, no call per channel
        t = self.now_ms
        sin = math.sin
        for ch in channels:
            st = ch.source_state
            if st is not None and st[0] == SINE:
                v = sin(st[1] * ((t + st[2]) % st[3]))
                if st[4] != 1:
                    v = st[4] * v
                values[ch.id] = st[5] + v if st[5] else v
                continue
            read_into(self, ch, values, errors)

    def read(self, channel):
        st = self._state(channel)
        fn = st[0]
        t = self.now_ms
        if fn == SINE:
            v = math.sin(st[1] * ((t + st[2]) % st[3]))
            if st[4] != 1:
                v = st[4] * v
            return st[5] + v if st[5] else v
        if fn == SQUARE:
            return st[4] if (t + st[2]) % st[3] < st[1] else st[5]
        if fn == RANDOM:
            # xorshift16 (7, 9, 8): identical on CPython and MicroPython
            r = st[3]
            r ^= (r << 7) & 0xFFFF
            r ^= r >> 9
            r ^= (r << 8) & 0xFFFF
            st[3] = r
            v = r * st[2]
            return st[1] + v if st[1] else v
        if fn == COUNTER:
            v = st[1]
            st[1] = v + st[2]
            return v
        if fn == TEXT:
            vs = st[1]
            v = vs[st[2] % len(vs)]
            st[2] += 1
            return v
        return st[1]  # step / echo

    def write(self, channel, value):
        st = self._state(channel)
        if st[0] != VALUE:
            raise SourceError('function "%s" is not writable (use step or echo)'
                              % (channel.app_specific_config or {}).get("function", "sine"))
        st[1] = value


register("Simulated", SimulatedSource)
