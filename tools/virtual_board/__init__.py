"""A virtual board: the uedge firmware under the MicroPython unix port.

    python tools/virtual_board/run.py --board rp2040 --vfs /tmp/board1 --flash \\
        --settings settings.json [--secrets secrets.json] [--hw hw.json]

or from Python (tests):

    from virtual_board import VirtualBoard
    with VirtualBoard(workdir, board="rp2040", settings={...}) as vb:
        vb.set_adc(26, 30000); vb.set_input(14, 1)
        vb.wait_for("uedge: connected")
        vb.output(16)  -> 1

The board's filesystem is a directory (vfs/): `flash` copies what
`make flash` would copy (built .mpy + boot.py + main.py + settings).  The
simulated machine/network/ntptime modules (tools/virtual_board/mpy/) come first
on sys.path.  machine.reset() ends the process with exit code 3 and the
launcher boots the board again from its filesystem - a clean restart.
"""

import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MPY_DIR = os.path.join(HERE, "mpy")
RESET_EXIT_CODE = 3


def micropython_bin():
    # UEDGE_MICROPYTHON, else the venv's: the 32-bit unix port built from the
    # pinned source (tools/mpbuild.py link), as on a 32-bit board
    if os.environ.get("UEDGE_MICROPYTHON"):
        return os.environ["UEDGE_MICROPYTHON"]
    p = os.path.join(ROOT, ".venv", "bin", "micropython")
    return p if os.path.exists(p) else "micropython"


def _load_deploy():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import deploy
    finally:
        sys.path.pop(0)
    return deploy


def flash_vfs(board, vfs, settings=None, secrets=None, build_dir=None, version=None):
    """Build for the board (mpy-cross, its real arch) and copy it into vfs like make flash."""
    deploy = _load_deploy()
    build_dir = build_dir or os.path.join(vfs + ".build")
    deploy.build(board, build_dir, version=version, quiet=True)
    deploy.flash_dir(build_dir, vfs)
    if settings is not None:
        deploy.write_private(os.path.join(vfs, "settings.json"), json.dumps(settings))
    if secrets is not None:
        deploy.write_private(os.path.join(vfs, "secrets.json"), json.dumps(secrets))
    return vfs


def write_json_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


class VirtualBoard:
    """Runs the firmware in a MicroPython process, restarting it on machine.reset()."""

    def __init__(self, workdir, board="rp2040", settings=None, secrets=None, hw=None,
                 heapsize=None, flash=True, version=None, echo=False, files=None):
        self.workdir = workdir
        self.board = board
        self.vfs = os.path.join(workdir, "vfs")
        self.hw_path = os.path.join(workdir, "hw.json")
        self.hw = hw or {}
        self.heapsize = heapsize
        self.echo = echo
        os.makedirs(self.vfs, exist_ok=True)
        write_json_atomic(self.hw_path, self.hw)
        if flash:
            flash_vfs(board, self.vfs, settings, secrets, os.path.join(workdir, "build"), version)
        for name, data in (files or {}).items():
            with open(os.path.join(self.vfs, name), "wb") as f:
                f.write(data)
        self.proc = None
        self.lines = []
        self.boots = 0
        self.exit_codes = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = None
        self._env_extra = {}

    # -- hardware ------------------------------------------------------------
    def update_hw(self, **sections):
        for k, v in sections.items():
            if isinstance(v, dict) and isinstance(self.hw.get(k), dict):
                self.hw[k].update(v)
            else:
                self.hw[k] = v
        write_json_atomic(self.hw_path, self.hw)

    def set_adc(self, key, value):
        self.update_hw(adc={str(key): value})

    def set_input(self, pin, level):
        self.update_hw(pins={str(pin): level})

    def outputs(self):
        try:
            with open(self.hw_path + ".out") as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"pins": {}, "pwm": {}}

    def output(self, pin):
        return self.outputs().get("pins", {}).get(str(pin))

    def file(self, name):
        return os.path.join(self.vfs, name)

    # -- process -------------------------------------------------------------
    def command(self):
        cmd = [micropython_bin()]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        return cmd + [os.path.join(MPY_DIR, "sim_boot.py")]

    def _env(self, cause):
        env = dict(os.environ)
        env.update({
            "UEDGE_SIM_VFS": self.vfs,
            "UEDGE_SIM_HW": self.hw_path,
            "UEDGE_SIM_RESET_CAUSE": str(cause),
            "MICROPYPATH": MPY_DIR,
        })
        env.update(self._env_extra)
        return env

    def _supervise(self):
        cause = 1  # power on
        while not self._stop:
            self.boots += 1
            self._add("sim: boot %d" % self.boots)
            self.proc = subprocess.Popen(
                self.command(), env=self._env(cause), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.vfs)
            for raw in self.proc.stdout:
                self._add(raw.decode("utf-8", "replace").rstrip("\n"))
            rc = self.proc.wait()
            self.exit_codes.append(rc)
            self._add("sim: exit %d" % rc)
            with self._lock:
                wdt = any("watchdog expired" in ln for ln in self.lines[-5:])
            if self._stop or not (rc == RESET_EXIT_CODE or wdt):
                break
            cause = 3 if wdt else 2  # machine.WDT_RESET / HARD_RESET

    def _add(self, line):
        with self._lock:
            self.lines.append(line)
        if self.echo:
            print("[board] " + line, flush=True)

    def start(self):
        self._stop = False
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    # -- observing -------------------------------------------------------------
    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def count(self, text):
        with self._lock:
            return sum(1 for ln in self.lines if text in ln)

    def wait_for(self, text, timeout=30.0, after=0, count=1):
        """Wait until `count` log lines (from line index `after`) contain text."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                n = sum(1 for ln in self.lines[after:] if text in ln)
            if n >= count:
                return True
            if not self.running:
                break
            time.sleep(0.05)
        raise AssertionError("board never logged %r; log:\n%s" % (text, self.log()[-6000:]))

    def mark(self):
        with self._lock:
            return len(self.lines)

    def wait_until(self, fn, timeout=30.0, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; log:\n%s" % (what, self.log()[-6000:]))
