"""Network bring-up without blocking the loop: WLAN (or wired LAN) + NTP.

poll(now_ms) advances a small state machine: activate the interface, try
each configured access point in turn, wait for an address, and retry with
exponential backoff (1 s doubling to 60 s) when a try fails.  Once up, the
clock is synced by NTP (retried every 30 s until it works, then every 12 h).
"""


class Network:
    def __init__(self, board, settings, network=None, ntptime=None, log=print):
        self.board = board
        self.aps = settings.get("wifi") or []
        self.ntp_host = settings.get("ntp_host")
        self.log = log
        if network is None:
            import network
        self.network = network
        if ntptime is None:
            try:
                import ntptime
            except ImportError:
                ntptime = None
        self.ntptime = ntptime
        self.iface = None
        self.up = False
        self.state = "down"
        self.ap_index = 0
        self.failures = 0
        self.next_ms = 0
        self.deadline = 0
        self.synced = False
        self.next_ntp_ms = 0
        self.last_status = None

    def _backoff(self, now):
        d = 1000
        for _ in range(min(self.failures, 6)):
            d *= 2
        self.failures += 1
        self.next_ms = now + min(d, 60000)

    def _start(self, now):
        n = self.network
        eth = getattr(self.board, "ETHERNET", None)
        if eth and hasattr(n, "LAN"):
            try:
                self.iface = n.LAN(**eth) if isinstance(eth, dict) else n.LAN()
                self.iface.active(True)
                self.kind = "lan"
                self.log("net: wired interface active")
                self.state = "waiting"
                self.deadline = now + 15000
                return
            except Exception as e:
                self.log("net: wired interface failed (%s), trying WiFi" % e)
        if not self.aps:
            self.state = "no_config"
            self.log("net: no wifi configured in settings.json")
            return
        self.kind = "wlan"
        if self.iface is None:
            self.iface = n.WLAN(n.STA_IF)
        self.iface.active(True)
        ap = self.aps[self.ap_index % len(self.aps)]
        self.log("net: connecting to %s" % ap["ssid"])
        try:
            self.iface.connect(ap["ssid"], ap.get("password") or "")
        except OSError as e:
            self.log("net: connect failed: %s" % e)
            self._fail(now)
            return
        self.state = "waiting"
        self.deadline = now + 20000

    def _fail(self, now):
        self.state = "down"
        self.ap_index += 1
        self._backoff(now)

    def poll(self, now):
        if self.state == "no_config":
            return False
        if self.up:
            if not self.iface.isconnected():
                self.up = False
                self.state = "down"
                self.log("net: link lost (status %s)" % self._status())
                self._backoff(now)
            else:
                self._ntp(now)
            return self.up
        if self.state == "down":
            if now >= self.next_ms:
                self._start(now)
            return False
        if self.state == "waiting":
            st = self._status()
            if self.iface.isconnected():
                self.up = True
                self.state = "up"
                self.failures = 0
                self.log("net: up, address %s" % self.iface.ifconfig()[0])
                self._ntp(now)
                return True
            n = self.network
            bad = (
                getattr(n, "STAT_WRONG_PASSWORD", None),
                getattr(n, "STAT_NO_AP_FOUND", None),
                getattr(n, "STAT_CONNECT_FAIL", None),
            )
            if (st in bad and st is not None) or now >= self.deadline:
                self.log("net: connect failed (status %s)" % self._status_name(st))
                try:
                    self.iface.disconnect()
                except Exception:
                    pass
                self._fail(now)
        return False

    def _status(self):
        try:
            return self.iface.status()
        except Exception:
            return None

    def _status_name(self, st):
        for name in dir(self.network):
            if name.startswith("STAT_") and getattr(self.network, name) == st:
                return name
        return str(st)

    def _ntp(self, now):
        if self.ntptime is None or now < self.next_ntp_ms:
            return
        try:
            if self.ntp_host:
                self.ntptime.host = self.ntp_host
            self.ntptime.settime()
            if not self.synced:
                self.log("net: time synced from %s" % self.ntp_host)
            self.synced = True
            self.next_ntp_ms = now + 12 * 3600 * 1000
        except Exception as e:
            self.log("net: ntp failed: %s" % e)
            self.next_ntp_ms = now + 30000
