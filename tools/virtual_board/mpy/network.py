"""Simulated `network` module: a WLAN that "connects" (and a LAN for wired boards).

The access point comes from $UEDGE_SIM_HW's "wifi" section:
  {"ssid": "lab", "password": "secret", "down": false, "connect_polls": 2}
A wrong password or ssid gives the matching STAT_* code; "down": true drops
the link (isconnected() False) until it is cleared.
"""

import _simhw

STA_IF = 0
AP_IF = 1

STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_GOT_IP = 3
STAT_CONNECT_FAIL = -1
STAT_NO_AP_FOUND = -2
STAT_WRONG_PASSWORD = -3

_hostname = "uedge-sim"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


def country(cc=None):
    return "XX"


def _ap():
    ap = _simhw.section("wifi")
    if not ap:
        ap = {"ssid": "uedge-sim", "password": ""}
    return ap


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface
        self._active = False
        self._status = STAT_IDLE
        self._polls = 0
        self._ssid = None

    def active(self, flag=None):
        if flag is None:
            return self._active
        self._active = bool(flag)
        if not flag:
            self._status = STAT_IDLE

    def connect(self, ssid=None, key=None, **kw):
        if not self._active:
            raise OSError("WLAN not active")
        ap = _ap()
        self._ssid = ssid
        self._polls = 0
        if ssid != ap.get("ssid"):
            self._status = STAT_NO_AP_FOUND
        elif (key or "") != (ap.get("password") or ""):
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_CONNECTING

    def disconnect(self):
        self._status = STAT_IDLE

    def status(self, param=None):
        if param == "rssi":
            return -55
        if self._status == STAT_CONNECTING:
            self._polls += 1
            if self._polls >= int(_ap().get("connect_polls", 2)):
                self._status = STAT_GOT_IP
        if self._status == STAT_GOT_IP and _ap().get("down"):
            self._status = STAT_CONNECT_FAIL
        return self._status

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def ifconfig(self, cfg=None):
        if self._status == STAT_GOT_IP:
            return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def config(self, *args, **kw):
        if args and args[0] == "mac":
            return b"\x02\x00\x00\x00\x00\x01"
        if args and args[0] in ("ssid", "essid"):
            return self._ssid
        return None

    def scan(self):
        ap = _ap()
        return [(ap.get("ssid", "").encode(), b"\x02\x00\x00\x00\x00\x02", 6, -55, 3, False)]


class LAN(WLAN):
    """Wired interface: connected whenever active (no credentials)."""

    def __init__(self, *args, **kw):
        WLAN.__init__(self, 0)

    def active(self, flag=None):
        r = WLAN.active(self, flag)
        if flag:
            self._status = STAT_GOT_IP
        return r
