#!/usr/bin/env python3
"""Run a virtual board from the command line (see __init__.py for the model).

    python tools/virtual_board/run.py --board rp2040 --dir /tmp/vb \\
        --settings build/rp2040/device/settings.json [--secrets ...] [--hw hw.json]
    python -m virtual_board ...   (with tools/ on PYTHONPATH)

Ctrl-C stops it.  Edit <dir>/hw.json while it runs to move ADC values and
inputs; <dir>/hw.json.out shows the outputs the firmware drives.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from virtual_board import VirtualBoard  # noqa: E402


def _load(path):
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def main(argv=None):
    p = argparse.ArgumentParser(description="uedge firmware on a simulated board")
    p.add_argument("--board", default="rp2040", choices=("rp2040", "esp32"))
    p.add_argument("--dir", required=True, help="work directory (vfs/, hw.json)")
    p.add_argument("--settings", help="settings.json for the board")
    p.add_argument("--secrets", help="secrets.json for the board")
    p.add_argument("--hw", help="initial simulated hardware state (JSON)")
    p.add_argument("--no-flash", action="store_true", help="boot what is already in <dir>/vfs")
    p.add_argument("--heapsize", help="MicroPython heap size, e.g. 64K")
    a = p.parse_args(argv)
    vb = VirtualBoard(a.dir, a.board, settings=_load(a.settings), secrets=_load(a.secrets),
                      hw=_load(a.hw), heapsize=a.heapsize, flash=not a.no_flash, echo=True)
    vb.start()
    try:
        while vb.running:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
