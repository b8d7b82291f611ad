"""A byte-level man-in-the-middle between two pty pairs, for fault injection.

    master <-> pair1.a | pair1.b <-> Mitm <-> pair2.a | pair2.b <-> server

Frames are forwarded whole (a pty delivers one write as one read). Requests
to units in `drop` are swallowed (the device does not answer); responses
from units in `corrupt` get their last CRC byte flipped, from units in
`truncate` lose their last three bytes.
"""

import os
import select
import threading


class Mitm:
    def __init__(self, left, right):
        self.left = os.open(left, os.O_RDWR | os.O_NOCTTY)
        self.right = os.open(right, os.O_RDWR | os.O_NOCTTY)
        for fd in (self.left, self.right):
            import tty

            tty.setraw(fd)
        self.drop = set()
        self.corrupt = set()
        self.truncate = set()
        self.requests = {}  # unit -> requests seen from the master
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        p = select.poll()
        p.register(self.left, select.POLLIN)
        p.register(self.right, select.POLLIN)
        while not self._stop:
            for fd, ev in p.poll(50):
                if not ev & select.POLLIN:
                    continue
                try:
                    data = bytearray(os.read(fd, 1024))
                except OSError:
                    return
                if not data:
                    continue
                if fd == self.left:
                    unit = data[0]
                    self.requests[unit] = self.requests.get(unit, 0) + 1
                    if unit in self.drop:
                        continue
                    os.write(self.right, data)
                else:
                    if data[0] in self.corrupt:
                        data[-1] ^= 0x5A
                    if data[0] in self.truncate:
                        del data[-3:]
                    os.write(self.left, data)

    def close(self):
        self._stop = True
        self.thread.join(2)
        os.close(self.left)
        os.close(self.right)
