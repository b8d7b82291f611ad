"""Runtime differences between MicroPython and CPython, kept in one place.

Everything else in lib/uedge imports time, json and friends through here when
the two runtimes disagree, so no other module needs an `if MICROPYTHON`.
"""

import binascii
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

try:
    from micropython import const  # noqa: F401
except ImportError:  # CPython

    def const(x):
        return x


if MICROPYTHON:
    import json  # noqa: F401  (built in: the modules take json from here)

    _ticks_ms = time.ticks_ms
    _ticks_diff = time.ticks_diff
    # Bare-metal ports count seconds from 2000-01-01 on older firmware.
    EPOCH_OFFSET_S = 946684800 if time.gmtime(0)[0] == 2000 else 0

    def _epoch_us():
        return (time.time_ns() // 1000) + EPOCH_OFFSET_S * 1000000

    def sleep_ms(ms):
        if ms > 0:
            time.sleep_ms(ms)

else:
    from uedge import cjson as json  # noqa: F401  (the C scanner and encoder without re and enum)

    EPOCH_OFFSET_S = 0

    def _ticks_ms():
        return time.monotonic_ns() // 1000000

    def _ticks_diff(a, b):
        return a - b

    def _epoch_us():
        return time.time_ns() // 1000

    def sleep_ms(ms):
        if ms > 0:
            time.sleep(ms / 1000)


class Clock:
    """The one clock of the edge loop.

    now_ms() is monotonic and never wraps (MicroPython's ticks wrap, so the
    difference is accumulated into a Python int). epoch_us() is wall time in
    microseconds, the unit of Murano's record timestamps.
    """

    def __init__(self):
        self._last = _ticks_ms()
        self._ms = 0

    def now_ms(self):
        t = _ticks_ms()
        self._ms += _ticks_diff(t, self._last)
        self._last = t
        return self._ms

    def epoch_us(self):
        return _epoch_us()

    def sleep_ms(self, ms):
        sleep_ms(ms)


class FakeClock:
    """A clock that only moves when told to: tests run a day in milliseconds."""

    def __init__(self, start_ms=0, epoch_us=1700000000000000):
        self._ms = start_ms
        self._epoch0 = epoch_us - start_ms * 1000

    def now_ms(self):
        return self._ms

    def epoch_us(self):
        return self._epoch0 + self._ms * 1000

    def advance(self, ms):
        self._ms += ms

    def sleep_ms(self, ms):
        if ms > 0:
            self._ms += ms


def monotonic_ms():
    return _ticks_ms()


def ticks_diff(a, b):
    return _ticks_diff(a, b)


def epoch_us():
    return _epoch_us()


def _sha256():
    """sha256: CPython's from _hashlib (hashlib would load _blake2 and its own
    code too, ~0.2 MB of a gateway's memory), else hashlib's (MicroPython)."""
    try:
        from _hashlib import openssl_sha256

        return openssl_sha256
    except (ImportError, AttributeError):
        import hashlib

        return hashlib.sha256


def digest(text):
    """A short digest of a resource value (sha256 where there is hashlib, else CRC-32)."""
    b = text.encode() if isinstance(text, str) else bytes(text)
    try:
        return binascii.hexlify(_sha256()(b).digest()).decode()[:32]
    except (ImportError, AttributeError):
        return "%08x" % (binascii.crc32(b) & 0xFFFFFFFF)


def release(name):
    """Unload module `name` on MicroPython, so its bytecode can be collected
    once nothing else refers to it; the next import loads it again. A no-op on
    CPython (a gateway keeps its modules)."""
    if not MICROPYTHON:
        return
    sys.modules.pop(name, None)
    i = name.rfind(".")
    parent = sys.modules.get(name[:i])
    if parent is not None and name[i + 1 :] in parent.__dict__:
        delattr(parent, name[i + 1 :])
