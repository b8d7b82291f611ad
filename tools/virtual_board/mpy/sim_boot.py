"""Boot the board's filesystem like MicroPython does on hardware: boot.py, then main.py.

Run by the launcher as `micropython sim_boot.py`; the simulated machine/network/
ntptime modules sit next to this file and come first on sys.path.  The virtual
filesystem ($UEDGE_SIM_VFS) becomes the working directory, i.e. the board's '/'.
"""

import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
if not HERE.startswith("/"):
    HERE = os.getcwd() + "/" + HERE

vfs = os.getenv("UEDGE_SIM_VFS")
if vfs:
    os.chdir(vfs)
# The device's default path is ['', '.frozen', '/lib']; the simulated hardware goes first.
sys.path[:] = [HERE, "", ".frozen", "lib"]


def _run(name, g):
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return
    exec(compile(src, name, "exec"), g)


g = {"__name__": "__main__"}
_run("boot.py", g)
_run("main.py", g)
