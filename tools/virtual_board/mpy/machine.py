"""Simulated `machine` module for running the firmware on the MicroPython unix port.

Covers what uedge uses: Pin, Signal, ADC, PWM, UART (over a pty or TCP), WDT,
RTC, reset (exits with code 3: the launcher starts the board again, like a
hard reset), reset_cause, unique_id, freq, idle, lightsleep/deepsleep.
"""

import os
import select
import socket
import sys
import time

import _simhw

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
RESET_EXIT_CODE = 3


def reset():
    print("machine: reset")
    raise SystemExit(RESET_EXIT_CODE)


def soft_reset():
    print("machine: soft reset")
    raise SystemExit(RESET_EXIT_CODE)


def reset_cause():
    try:
        return int(os.getenv("UEDGE_SIM_RESET_CAUSE") or PWRON_RESET)
    except ValueError:
        return PWRON_RESET


def unique_id():
    return (os.getenv("UEDGE_SIM_UID") or "simboard0001").encode()


def freq(hz=None):
    return 125000000


def idle():
    time.sleep_ms(1)


def lightsleep(ms=0):
    time.sleep_ms(ms)


def deepsleep(ms=0):
    time.sleep_ms(ms)
    os.putenv("UEDGE_SIM_RESET_CAUSE", str(DEEPSLEEP_RESET))
    raise SystemExit(RESET_EXIT_CODE)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 4
    IRQ_FALLING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None, **kw):
        self.id = id
        self.mode = self.IN
        self.pull = None
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None, **kw):
        if mode != -1:
            self.mode = mode
        if pull != -1:
            self.pull = pull
        if value is not None:
            self.value(value)

    def value(self, v=None):
        key = str(self.id)
        if v is None:
            if self.mode == self.IN:
                pins = _simhw.section("pins")
                if key in pins:
                    return 1 if pins[key] else 0
                return 1 if self.pull == self.PULL_UP else 0
            return _simhw.get_output("pins", key)
        _simhw.set_output("pins", key, 1 if v else 0)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def toggle(self):
        self.value(0 if self.value() else 1)

    def irq(self, handler=None, trigger=0, **kw):
        return None

    def __repr__(self):
        return "Pin(%r)" % (self.id,)


class Signal:
    def __init__(self, pin, invert=False):
        self.pin = pin if isinstance(pin, Pin) else Pin(pin, Pin.OUT)
        self.invert = invert

    def value(self, v=None):
        if v is None:
            return self.pin.value() ^ (1 if self.invert else 0)
        self.pin.value((1 if v else 0) ^ (1 if self.invert else 0))

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 3

    def __init__(self, src, atten=None):
        if isinstance(src, Pin):
            self.key = str(src.id)
        else:
            self.key = "ch%d" % src
        self._atten = atten

    def read_u16(self):
        while _simhw.hw().get("hang"):  # a stuck peripheral: the loop hangs here
            time.sleep_ms(10)
        v = _simhw.section("adc").get(self.key, 0)
        try:
            v = int(v)
        except (TypeError, ValueError):
            v = 0
        return max(0, min(65535, v))

    def read(self):
        return self.read_u16() >> 4

    def read_uv(self):
        return self.read_u16() * 3300000 // 65535

    def atten(self, a):
        self._atten = a

    def width(self, w):
        pass


class PWM:
    def __init__(self, pin, freq=1000, duty_u16=0, **kw):
        self.pin = pin
        self._freq = freq
        self.duty_u16(duty_u16)

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def duty_u16(self, d=None):
        if d is None:
            return _simhw.get_output("pwm", self.pin.id)
        _simhw.set_output("pwm", self.pin.id, d)

    def deinit(self):
        self.duty_u16(0)


class WDT:
    """A watchdog: not fed within the timeout, the board resets.

    A watcher thread notices a hung loop and ends the process (the shell
    started by os.system is a child of this process, so $PPID is us); the
    launcher sees the "watchdog expired" line and boots the board again with
    reset_cause() == WDT_RESET.  A late feed() resets as well.
    """

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.last = time.ticks_ms()
        self.feeds = 0
        print("machine: watchdog armed, %d ms" % timeout)
        try:
            import _thread

            _thread.start_new_thread(self._watch, ())
        except (ImportError, OSError, RuntimeError):
            pass

    def _watch(self):
        step = max(20, min(200, self.timeout // 4))
        while True:
            time.sleep_ms(step)
            late = time.ticks_diff(time.ticks_ms(), self.last)
            if late > self.timeout:
                print("machine: watchdog expired (%d ms without feed)" % late)
                os.system("kill -KILL $PPID")
                return

    def feed(self):
        now = time.ticks_ms()
        late = time.ticks_diff(now, self.last)
        if late > self.timeout:
            print("machine: watchdog expired (%d ms without feed)" % late)
            os.putenv("UEDGE_SIM_RESET_CAUSE", str(WDT_RESET))
            raise SystemExit(RESET_EXIT_CODE)
        self.last = now
        self.feeds += 1


class RTC:
    def datetime(self, dt=None):
        if dt is not None:
            return None
        t = time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)


class UART:
    """A UART on a pty (socat pair) or a TCP socket, with machine.UART's timeouts."""

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.id = id
        self._f = None
        self._sock = None
        self._poll = None
        self._buf = bytearray(1)
        self.timeout = 0
        self.timeout_char = 0
        self.init(baudrate, bits, parity, stop, **kw)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kw):
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        self.timeout = kw.get("timeout", self.timeout)
        self.timeout_char = kw.get("timeout_char", self.timeout_char)
        if self._f is None and self._sock is None:
            self._open()

    def _open(self):
        target = _simhw.section("uart").get(str(self.id))
        if not target:
            raise OSError(19, "UART%d is not wired in the simulation" % self.id)
        if target.startswith("tcp:"):
            host, port = target[4:].rsplit(":", 1)
            s = socket.socket()
            s.connect(socket.getaddrinfo(host, int(port))[0][-1])
            self._sock = s
            self._io = s
        else:
            self._f = open(target, "r+b")
            self._io = self._f
            try:
                import termios

                termios.setraw(self._f.fileno())
            except (ImportError, OSError, AttributeError):
                pass
        self._poll = select.poll()
        self._poll.register(self._io, select.POLLIN)

    def deinit(self):
        for o in (self._f, self._sock):
            if o is not None:
                try:
                    o.close()
                except OSError:
                    pass
        self._f = self._sock = None

    def fileno(self):
        return self._io.fileno()

    def _ready(self, ms):
        return bool(self._poll.poll(max(0, ms)))

    def _read1(self):
        if self._sock is not None:
            b = self._sock.recv(1)
        else:
            b = self._f.read(1)
        return b[0] if b else None

    def any(self):
        return 1 if self._ready(0) else 0

    def read(self, n=None):
        out = bytearray()
        if not self._ready(self.timeout):
            return None
        gap = self.timeout_char
        while n is None or len(out) < n:
            c = self._read1()
            if c is None:
                break
            out.append(c)
            if n is not None and len(out) >= n:
                break
            if not self._ready(gap):
                break
        return bytes(out) if out else None

    def readinto(self, buf, nbytes=None):
        n = len(buf) if nbytes is None else nbytes
        data = self.read(n)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        out = bytearray()
        while True:
            c = self.read(1)
            if not c:
                break
            out += c
            if c == b"\n":
                break
        return bytes(out) if out else None

    def write(self, data):
        if self._sock is not None:
            self._sock.send(data)
        else:
            self._f.write(data)
            try:
                self._f.flush()
            except (OSError, AttributeError):
                pass
        return len(data)

    def flush(self):
        pass

    def txdone(self):
        return True

    def sendbreak(self):
        pass


mem8 = mem16 = mem32 = None
_ = sys
