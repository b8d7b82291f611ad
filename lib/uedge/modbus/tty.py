"""A UART-like stream over a POSIX serial device (MicroPython unix port, CPython).

Gives the RTU master what machine.UART gives on a board: write(buf),
readinto(buf) that returns only what has arrived (0 when nothing), any(),
and a file object select.poll() accepts. The line is put in raw mode with
VMIN=0/VTIME=0 so reads never block.
"""

import termios

_PARITY = {"none": 0, "even": 1, "odd": 2}
# termios c_cflag bits (Linux values; the unix port exposes no constants)
_CSIZE = 0o60
_CS = {5: 0, 6: 0o20, 7: 0o40, 8: 0o60}
_CSTOPB = 0o100
_PARENB = 0o400
_PARODD = 0o1000
_CLOCAL = 0o4000
_CREAD = 0o200
_VTIME = 5
_VMIN = 6


def _raw(fd):
    if hasattr(termios, "setraw"):  # MicroPython unix port
        termios.setraw(fd)
    else:
        import tty

        tty.setraw(fd)


class Tty:
    def __init__(self, path, baud=19200, data_bits=8, parity="none", stop_bits=1):
        self.path = path
        self.f = open(path, "r+b", buffering=0)
        try:
            fd = self.f.fileno()
            _raw(fd)
            a = termios.tcgetattr(fd)
            c = a[2] & ~(_CSIZE | _CSTOPB | _PARENB | _PARODD)
            c |= _CS.get(data_bits, _CS[8]) | _CLOCAL | _CREAD
            if stop_bits == 2:
                c |= _CSTOPB
            p = _PARITY.get(parity, 0)
            if p:
                c |= _PARENB | (_PARODD if p == 2 else 0)
            a[2] = c
            speed = getattr(termios, "B%d" % baud, None)
            if speed is not None:
                a[4] = speed
                a[5] = speed
            a[6][_VMIN] = 0
            a[6][_VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, a)
        except Exception:
            self.f.close()
            raise

    def fileno(self):
        return self.f.fileno()

    def write(self, buf):
        return self.f.write(buf)

    def readinto(self, buf):
        return self.f.readinto(buf) or 0

    def read(self, n=256):
        b = bytearray(n)
        k = self.readinto(b)
        return bytes(b[:k])

    def any(self):
        import select

        p = select.poll()
        p.register(self.f, select.POLLIN)
        return 1 if p.poll(0) else 0

    def close(self):
        try:
            self.f.close()
        except OSError:
            pass
