"""Simulated `ntptime`: the host clock is already right; "ntp": false in the hw file makes it fail."""

import time as _time

import _simhw

host = "pool.ntp.org"
timeout = 1
synced = 0


def time():
    return _time.time()


def settime():
    global synced
    if _simhw.hw().get("ntp", True) is False:
        raise OSError(110, "ETIMEDOUT")
    synced += 1
