"""Portable Modbus RTU master over any UART-like byte stream.

The stream needs write(buf) and readinto(buf) that returns what is there
(0 or None when nothing) — machine.UART with timeout=0, or uedge.modbus.tty.Tty
on a POSIX serial port. If select.poll() accepts the stream the master sleeps
in poll() while it waits; otherwise it checks any()/readinto every millisecond.

Timing follows the RTU rules: before a request the line must have been silent
for 3.5 character times (fixed 1.75 ms above 19200 baud), and a response that
stops for longer than that before it is complete is a truncated frame. Times are
counted in whole milliseconds, rounded up; inside a response `latency_ms` more
is allowed for adapters that deliver bytes in bursts (USB serial on Linux).
"""

import select

from uedge.compat import monotonic_ms, sleep_ms, ticks_diff
from uedge.modbus import (
    ModbusCRCError,
    ModbusException,
    ModbusFrameError,
    ModbusPortError,
    ModbusTimeout,
)


def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        t.append(c)
    try:
        from array import array

        return array("H", t)
    except ImportError:
        return t


_CRC = _make_table()


def crc16(data, start=0, end=None):
    """Modbus CRC-16 (polynomial 0xA001 reflected, init 0xFFFF)."""
    if end is None:
        end = len(data)
    c = 0xFFFF
    t = _CRC
    for i in range(start, end):
        c = (c >> 8) ^ t[(c ^ data[i]) & 0xFF]
    return c


def put_crc(buf, n):
    """Append the CRC of buf[:n] (low byte first); return the new length."""
    c = crc16(buf, 0, n)
    buf[n] = c & 0xFF
    buf[n + 1] = c >> 8
    return n + 2


def check_crc(buf, n):
    c = crc16(buf, 0, n - 2)
    return buf[n - 2] == (c & 0xFF) and buf[n - 1] == (c >> 8)


def _head(buf, unit, fc, address, word):
    """The first six bytes of a request: unit, function, address, one 16-bit word."""
    buf[0] = unit
    buf[1] = fc
    buf[2] = address >> 8
    buf[3] = address & 0xFF
    buf[4] = word >> 8
    buf[5] = word & 0xFF


def build_read(buf, unit, fc, address, count):
    """Read request (function 1, 2, 3 or 4) into buf; returns its length."""
    _head(buf, unit, fc, address, count)
    return put_crc(buf, 6)


def build_write_single(buf, unit, fc, address, value):
    """Function 5 (value 0xFF00/0x0000) or 6 (register value)."""
    _head(buf, unit, fc, address, value & 0xFFFF)
    return put_crc(buf, 6)


def build_write_multiple(buf, unit, fc, address, count, data):
    """Function 15 (data = packed bits) or 16 (data = register bytes)."""
    nb = len(data)
    _head(buf, unit, fc, address, count)
    buf[6] = nb
    buf[7 : 7 + nb] = data
    return put_crc(buf, 7 + nb)


def response_length(buf, got):
    """Full length of the response frame in buf, or 0 while it cannot be known yet."""
    if got < 2:
        return 0
    fc = buf[1]
    if fc & 0x80:
        return 5
    if fc <= 4:
        return 5 + buf[2] if got >= 3 else 0
    if fc in (5, 6, 15, 16):
        return 8
    return -1


def expected_data_bytes(fc, count):
    return (count + 7) >> 3 if fc <= 2 else 2 * count


def parse_response(buf, n, unit, fc):
    """Check a complete response frame; return the data offset and length.

    Raises ModbusCRCError, ModbusException (the device's exception code) or
    ModbusFrameError.
    """
    if n < 5 or not check_crc(buf, n):
        raise ModbusCRCError("CRC error in response from unit %d" % unit)
    if buf[0] != unit:
        raise ModbusFrameError("response from unit %d, expected %d" % (buf[0], unit))
    if buf[1] == (fc | 0x80):
        raise ModbusException(buf[2], fc)
    if buf[1] != fc:
        raise ModbusFrameError("response function %d, expected %d" % (buf[1], fc))
    if fc <= 4:
        return 3, buf[2]
    return 2, 4


def char_time_us(baud, data_bits=8, parity="none", stop_bits=1):
    """Microseconds per character: start bit + data + parity + stop bits."""
    bits = 1 + data_bits + (0 if parity in (None, "none", "N") else 1) + (stop_bits or 1)
    return (bits * 1000000 + baud - 1) // baud


class RTUMaster:
    def __init__(self, stream, baud=19200, data_bits=8, parity="none", stop_bits=1,
                 timeout_ms=500, latency_ms=0, retries=1):
        self.stream = stream
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.char_us = char_time_us(baud, data_bits, parity, stop_bits)
        # 3.5 characters of silence delimit frames; the spec fixes it at
        # 1.75 ms above 19200 baud (1.5 characters: 0.75 ms).
        t35 = 1750 if baud > 19200 else (35 * self.char_us + 9) // 10
        self.t35_us = t35
        self.gap_ms = (t35 + 999) // 1000  # silence before a request
        self.frame_gap_ms = self.gap_ms + latency_ms  # pause that ends a response
        self._tx = bytearray(260)
        self._txv = memoryview(self._tx)
        self._rx = bytearray(260)
        self._rxv = memoryview(self._rx)
        self._last = monotonic_ms() - 1000
        self._poll = None
        try:
            p = select.poll()
            # a POSIX adapter is polled by its file descriptor, a UART directly
            fileno = getattr(stream, "fileno", None)
            p.register(fileno() if fileno is not None else stream, select.POLLIN)
            self._poll = p
        except Exception:
            self._poll = None
        self._ipoll = hasattr(self._poll, "ipoll")
        # counters for diagnostics and the benchmark
        self.requests = 0
        self.failures = 0
        self.bytes_out = 0
        self.bytes_in = 0

    # -- the transaction --------------------------------------------------

    def _wait(self, ms):
        """Wait up to ms for input; raises ModbusPortError if the port hung up."""
        p = self._poll
        if p is not None:
            # ipoll (MicroPython) allocates nothing; poll elsewhere
            for _obj, ev in (p.ipoll if self._ipoll else p.poll)(ms if ms > 0 else 0):
                if ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                    raise ModbusPortError("serial port closed")
            return
        any_ = getattr(self.stream, "any", None)
        if any_ is not None and any_():
            return
        sleep_ms(1 if ms > 0 else 0)

    def _read_some(self, start):
        try:
            n = self.stream.readinto(self._rxv[start:])
        except OSError as e:
            raise ModbusPortError("serial port error: %s" % e) from None
        return n or 0

    def _drain(self):
        # Stale bytes (a late answer to a timed-out request) must not be
        # taken for the next response.
        for _ in range(64):
            if self._poll is not None:
                self._wait(0)
            if not self._read_some(0):
                return

    def _transact(self, n_tx, unit, fc):
        self._drain()
        quiet = ticks_diff(monotonic_ms(), self._last)
        if quiet <= self.gap_ms:
            sleep_ms(self.gap_ms + 1 - quiet)
        sent = 0
        try:
            while sent < n_tx:
                k = self.stream.write(self._txv[sent:n_tx])
                sent += n_tx - sent if k is None else k
        except OSError as e:
            raise ModbusPortError("serial port error: %s" % e) from None
        self.requests += 1
        self.bytes_out += n_tx
        start = monotonic_ms()
        self._last = start
        if unit == 0:
            return 0  # broadcast: nobody answers
        # the request takes n_tx characters to leave the wire
        tx_ms = (n_tx * self.char_us + 999) // 1000
        got = 0
        need = 0
        rx = self._rx
        while True:
            now = monotonic_ms()
            if got == 0:
                wait = tx_ms + self.timeout_ms - ticks_diff(now, start)
                if wait <= 0:
                    raise ModbusTimeout("no response from unit %d (timeout %d ms)" % (unit, self.timeout_ms))
            else:
                # A frame is sent without pauses: silence longer than the
                # frame gap means it ended early.
                wait = self.frame_gap_ms + 1 - ticks_diff(now, self._last)
                if wait <= 0:
                    raise ModbusFrameError(
                        "truncated response from unit %d (%d bytes)" % (unit, got)
                    )
            self._wait(wait)
            k = self._read_some(got)
            if not k:
                continue
            got += k
            self._last = monotonic_ms()
            if need <= 0:
                need = response_length(rx, got)
                if need < 0 or need > len(rx):
                    self._drain()
                    raise ModbusFrameError("garbled response from unit %d" % unit)
            if need and got >= need:
                self.bytes_in += got
                return need

    def _run(self, n_tx, unit, fc):
        tries = self.retries
        while True:
            try:
                n = self._transact(n_tx, unit, fc)
                if unit == 0:
                    return 0, 0
                return parse_response(self._rx, n, unit, fc)
            except (ModbusCRCError, ModbusFrameError):
                # line noise: worth one more try, the device is there
                self.failures += 1
                if tries <= 0:
                    raise
                tries -= 1
            except Exception:
                self.failures += 1
                raise

    # -- public functions ---------------------------------------------------

    def read(self, unit, fc, address, count):
        """Function 1/2 (bits, packed) or 3/4 (registers, 2 bytes each, big-endian).

        Returns a memoryview of the response data, valid until the next call.
        """
        n = build_read(self._tx, unit, fc, address, count)
        off, nb = self._run(n, unit, fc)
        if nb != expected_data_bytes(fc, count):
            raise ModbusFrameError("response from unit %d has %d data bytes, expected %d"
                                   % (unit, nb, expected_data_bytes(fc, count)))
        return self._rxv[off : off + nb]

    def write_coil(self, unit, address, on):
        n = build_write_single(self._tx, unit, 5, address, 0xFF00 if on else 0)
        self._run(n, unit, 5)
        self._check_echo(unit, 6)

    def write_register(self, unit, address, value):
        n = build_write_single(self._tx, unit, 6, address, value)
        self._run(n, unit, 6)
        self._check_echo(unit, 6)

    def write_coils(self, unit, address, bits):
        count = len(bits)
        data = bytearray((count + 7) >> 3)
        for i in range(count):
            if bits[i]:
                data[i >> 3] |= 1 << (i & 7)
        n = build_write_multiple(self._tx, unit, 15, address, count, data)
        self._run(n, unit, 15)
        self._check_echo(unit, 6)

    def write_registers(self, unit, address, data):
        n = build_write_multiple(self._tx, unit, 16, address, len(data) // 2, data)
        self._run(n, unit, 16)
        self._check_echo(unit, 6)

    def _check_echo(self, unit, upto):
        if unit == 0:
            return
        for i in range(2, upto):
            if self._rx[i] != self._tx[i]:
                raise ModbusFrameError("write response from unit %d does not echo the request" % unit)
