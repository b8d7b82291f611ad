"""Shared state of the simulated board (MicroPython side).

Inputs come from the JSON file named by $UEDGE_SIM_HW (written by the test or
the person driving the simulation):
  {"adc": {"26": 12000, "ch4": 14000},   ADC counts by GPIO or "ch<n>"
   "pins": {"14": 1},                    levels of input pins
   "uart": {"1": "/dev/pts/7"},          UART id -> pty path or "tcp:host:port"
   "wifi": {"ssid": "lab", "password": "pw", "down": false, "connect_polls": 2},
   "ntp": true}
Outputs go to $UEDGE_SIM_HW.out: {"pins": {"16": 1}, "pwm": {...}, "wdt": ms}.
"""

import json
import os
import time

_path = os.getenv("UEDGE_SIM_HW") or ""
_cache = {}
_loaded = None
_out = {"pins": {}, "pwm": {}}


def hw():
    global _cache, _loaded
    now = time.ticks_ms()
    if _loaded is None or time.ticks_diff(now, _loaded) > 100:
        _loaded = now
        if _path:
            try:
                with open(_path) as f:
                    _cache = json.loads(f.read())
            except (OSError, ValueError):
                pass
    return _cache


def section(name):
    v = hw().get(name)
    return v if isinstance(v, dict) else {}


def set_output(kind, key, value):
    d = _out[kind]
    k = str(key)
    if d.get(k) == value:
        return
    d[k] = value
    if not _path:
        return
    tmp = _path + ".out.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(_out))
    os.rename(tmp, _path + ".out")


def get_output(kind, key, default=0):
    return _out[kind].get(str(key), default)
