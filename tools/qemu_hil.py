#!/usr/bin/env python3
"""`make hil` without PORT: the Cortex-M3 virtual board, driven as a real board is.

    python tools/qemu_hil.py [--frozen] [--heap BYTES] [--port /dev/pts/N]

Starts qemu (tools/qemu_board.py) unless --port names a running board, then,
over the board's serial pty with mpremote only:
  1. flashes the rp2040 build (tools/deploy.py build + flash: .mpy files copied
     to the board's littlefs, soft reset instead of machine.reset, which would
     end the emulator);
  2. imports every firmware module from the board's /lib (the load path of
     main.py, without WiFi: the qemu machine has no network);
  3. copies tests/portable to the board and runs it with its runner
     (tests/portable/mpy_runner.py), printing the pass/fail counts.
Exit status 0 only when everything passed.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import deploy  # noqa: E402
import qemu_board  # noqa: E402

PORTABLE = os.path.join(ROOT, "tests", "portable")


def mpremote(port, *args, timeout=600):
    cmd = [deploy.tool("mpremote"), "connect", port] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def firmware_modules(build_out):
    lib = os.path.join(build_out, "lib")
    names = []
    for dp, dn, fn in os.walk(lib):
        dn.sort()
        for f in sorted(fn):
            if f.endswith(".mpy"):
                rel = os.path.relpath(os.path.join(dp, f), lib)[:-4].replace(os.sep, ".")
                if rel.endswith(".__init__"):
                    rel = rel[: -len(".__init__")]
                names.append(rel)
    return names


def copy_portable(port):
    """tests/portable -> :/tests/portable (the runner, its helpers, the tests, data/)."""
    args = ["fs", "mkdir", ":tests", "+", "fs", "mkdir", ":tests/portable", "+",
            "fs", "mkdir", ":tests/portable/data"]
    for fn in sorted(os.listdir(PORTABLE)):
        src = os.path.join(PORTABLE, fn)
        if fn.endswith(".py"):
            args += ["+", "fs", "cp", src, ":tests/portable/" + fn]
    for fn in sorted(os.listdir(os.path.join(PORTABLE, "data"))):
        args += ["+", "fs", "cp", os.path.join(PORTABLE, "data", fn), ":tests/portable/data/" + fn]
    rc, out = mpremote(port, *args)
    if rc != 0 and "EEXIST" not in out:
        raise SystemExit("qemu_hil: copying tests/portable failed:\n" + out)


RUN_PORTABLE = """
import os, sys
os.chdir('/tests/portable')
sys.path.insert(0, '/tests/portable')
try:
    import mpy_runner
except SystemExit as e:
    print('RUNNER_EXIT', e.value if hasattr(e, 'value') else e)
"""


def run(port, frozen=False):
    t0 = time.time()
    ok = True
    build_out = os.path.join(tempfile.mkdtemp(prefix="uedge-qemu-hil-"), "rp2040")
    if not frozen:
        deploy.build("rp2040", build_out)
        deploy.flash("rp2040", port, build_out, reset="soft")
        mods = firmware_modules(build_out)
    else:
        mods = [m for m in firmware_modules(build_out) if m] if os.path.isdir(build_out) else []
        deploy.build("rp2040", build_out, quiet=True)
        mods = firmware_modules(build_out)
    # each module on its own (dropped again before the next), then the firmware
    # entry module with what it pulls in: what main.py loads
    code = ("import sys, gc\nbase = set(sys.modules)\nok = 0\nbad = []\nfor m in %r:\n"
            "    try:\n        __import__(m)\n        ok += 1\n"
            "    except ImportError as e:\n        print('UNIX ONLY', m, e) if 'termios' in str(e) else bad.append('%%s: %%r' %% (m, e))\n"
            "    except Exception as e:\n        bad.append('%%s: %%r' %% (m, e))\n"
            "    for k in list(sys.modules):\n        if k not in base:\n            del sys.modules[k]\n"
            "    gc.collect()\n"
            "print('IMPORTED', ok, len(bad))\nfor b in bad:\n    print('IMPORT FAILED', b)\n"
            "import uedge_fw.app\nprint('FROM', getattr(uedge_fw.app, '__file__', 'frozen'))\n"
            % mods)
    rc, out = mpremote(port, "exec", code)
    m = re.search(r"IMPORTED (\d+) (\d+)", out)
    print("qemu-m3: firmware modules imported from %s: %s" % (
        "the frozen image" if frozen else "/lib (.mpy on littlefs)",
        "%s ok, %s failed" % m.groups() if m else "error"))
    if not m or m.group(2) != "0" or rc != 0:
        print(out)
        ok = False
    copy_portable(port)
    rc, out = mpremote(port, "soft-reset", "+", "exec", RUN_PORTABLE, timeout=1200)
    counts = re.search(r"micropython: (\d+) passed, (\d+) failed", out)
    show = False
    for line in out.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            show = True
        elif line.startswith(("INFO", "WARNING", "DEBUG", "micropython:")):
            show = False
        if show:
            print("qemu-m3: " + line)
    if counts:
        print("qemu-m3 (Cortex-M3, 8 KB stack, float32): portable tests: %s passed, %s failed" % counts.groups())
    else:
        print("qemu-m3: portable runner did not finish:\n" + out[-3000:])
    if not counts or counts.group(2) != "0" or counts.group(1) == "0":
        ok = False
    print("qemu-m3: done in %.0f s" % (time.time() - t0))
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", help="a running qemu board's pty (default: start one)")
    p.add_argument("--frozen", action="store_true")
    p.add_argument("--heap", type=int, default=qemu_board.PICO_W_HEAP)
    a = p.parse_args(argv)
    if a.port:
        return 0 if run(a.port, a.frozen) else 1
    with qemu_board.QemuBoard(a.frozen, a.heap) as b:
        print("qemu-m3: board on %s, GC heap %d bytes" % (b.port, a.heap))
        return 0 if run(b.port, a.frozen) else 1


if __name__ == "__main__":
    sys.exit(main())
