"""socat pty pairs for serial tests: two linked pseudo-terminals.

    with socat_pair() as pair:
        pair.a, pair.b      # paths (symlinks) of the two ends
        pair.kill()         # the port vanishes (both ends get hung up)
        pair.start()        # it comes back on the same paths

Each pair lives in its own temporary directory, so concurrent test runs
never collide.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time

SOCAT = shutil.which("socat") or "/usr/bin/socat"


class SocatPair:
    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="uedge-pty-")
        self.a = os.path.join(self.dir, "a")
        self.b = os.path.join(self.dir, "b")
        self.proc = None

    def start(self, timeout=5.0):
        for p in (self.a, self.b):
            if os.path.lexists(p):
                os.unlink(p)
        self.proc = subprocess.Popen(
            [SOCAT, "pty,raw,echo=0,link=%s" % self.a, "pty,raw,echo=0,link=%s" % self.b],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not (os.path.exists(self.a) and os.path.exists(self.b)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("socat did not create its ptys")
            time.sleep(0.01)
        return self

    def kill(self):
        p = self.proc
        self.proc = None
        if p is not None and p.poll() is None:
            p.kill()
            p.wait(5)
        for path in (self.a, self.b):
            if os.path.lexists(path):
                os.unlink(path)

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def socat_pair():
    pair = SocatPair().start()
    try:
        yield pair
    finally:
        pair.close()
