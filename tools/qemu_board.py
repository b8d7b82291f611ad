#!/usr/bin/env python3
"""The qemu Cortex-M3 virtual board (boards/qemu-m3): start it, find its serial pty, stop it.

    python tools/qemu_board.py start [--frozen] [--heap BYTES]   # prints the pty, keeps running
    python tools/qemu_board.py stop
    python tools/qemu_board.py run [--frozen] [--heap BYTES] -- CMD ...
        # start, run CMD with UEDGE_TEST_PORT / QEMU_BOARD_PORT set to the pty, stop

The board's REPL is on the pty qemu opens (-serial pty), so mpremote drives it
as it drives a board on /dev/ttyACM0: `mpremote connect /dev/pts/N ...`.
--heap sets the usable GC heap at boot (board settings word, see
boards/qemu-m3/board.c) without rebuilding; the firmware is built by
tools/mpbuild.py (targets qemu, qemu-frozen) if needed.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import mpbuild  # noqa: E402

STATE = os.path.join(ROOT, "build", "qemu-board.pid")
SETTINGS_ADDR = 0x01000000
SETTINGS_MAGIC = 0x48454150
PICO_W_HEAP = 196896  # __GcHeapEnd - __GcHeapStart of a stock RPI_PICO_W build


class QemuBoard:
    """One running qemu-system-arm mps2-an385 with the uedge board firmware."""

    def __init__(self, frozen=False, heap=PICO_W_HEAP, romfs=None):
        self.frozen = frozen
        self.heap = heap
        self.romfs = romfs
        self.proc = None
        self.port = None

    def command(self):
        target = "qemu-frozen" if self.frozen else "qemu"
        elf = mpbuild.built_path(target) or mpbuild.build([target])[target]
        cmd = ["qemu-system-arm", "-machine", "mps2-an385", "-nographic", "-monitor", "null",
               "-semihosting", "-serial", "pty", "-kernel", elf]
        if self.heap:
            cmd += ["-device", "loader,addr=0x%x,data=0x%x,data-len=4" % (SETTINGS_ADDR, SETTINGS_MAGIC),
                    "-device", "loader,addr=0x%x,data=%d,data-len=4" % (SETTINGS_ADDR + 4, int(self.heap))]
        if self.romfs:
            cmd += ["-device", "loader,file=%s,addr=0x21000000,force-raw=on" % self.romfs]
        return cmd

    def start(self, timeout=20):
        cmd = self.command()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        seen = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen += line
            m = re.search(rb"char device redirected to (/dev/pts/\d+)", line)
            if m:
                self.port = m.group(1).decode()
                break
        if not self.port:
            self.stop()
            raise RuntimeError("qemu_board: no pty from qemu: %s" % seen.decode(errors="replace"))
        # qemu keeps writing to stdout (semihosting, exit messages): drain it
        import threading

        threading.Thread(target=self._drain, daemon=True).start()
        return self.port

    def _drain(self):
        try:
            for _ in iter(self.proc.stdout.readline, b""):
                pass
        except (OSError, ValueError):
            pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("start", "stop", "run"))
    p.add_argument("--frozen", action="store_true", help="firmware with lib/uedge + firmware frozen in")
    p.add_argument("--heap", type=int, default=PICO_W_HEAP,
                   help="usable GC heap in bytes (default %d, a Pico W's; 0 = the whole 1 MB)" % PICO_W_HEAP)
    p.add_argument("--romfs", help="ROMFS image to load at 0x21000000")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    if a.command == "stop":
        try:
            with open(STATE) as f:
                pid = int(f.read().strip())
            os.killpg(pid, signal.SIGTERM)
            print("qemu_board: stopped %d" % pid)
        except (OSError, ValueError):
            print("qemu_board: not running")
        try:
            os.remove(STATE)
        except OSError:
            pass
        return 0
    b = QemuBoard(a.frozen, a.heap, a.romfs)
    if a.command == "start":
        port = b.start()
        os.makedirs(os.path.dirname(STATE), exist_ok=True)
        with open(STATE, "w") as f:
            f.write(str(b.proc.pid))
        print(port)
        sys.stdout.flush()
        os._exit(0)  # leave qemu running (its own session); stop with `stop`
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        p.error("run: give a command after --")
    with b:
        print("qemu_board: %s board on %s (heap %s)" % ("frozen" if a.frozen else "mpy", b.port, a.heap or "1 MB"))
        env = dict(os.environ, UEDGE_TEST_PORT=b.port, QEMU_BOARD_PORT=b.port)
        return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
