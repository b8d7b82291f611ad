"""Network bring-up without blocking the loop: WLAN (or wired LAN) + NTP.

poll(now_ms) advances a small state machine: activate the interface, try
each configured access point in turn, wait for an address, and retry with
exponential backoff (1 s doubling to 60 s) when a try fails.  Once up, the
clock is synced by NTP (retried every 30 s until it works, then every 12 h).
The steps that bring the link up are in uedge_fw.net_join, loaded while it
comes up and released once it is.
"""

from uedge.compat import release


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
        self._join = None  # uedge_fw.net_join while the link is being brought up

    def _backoff(self, now):
        d = 1000
        for _ in range(min(self.failures, 6)):
            d *= 2
        self.failures += 1
        self.next_ms = now + min(d, 60000)

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
        # bringing the interface up: uedge_fw.net_join, held until the link is up
        j = self._join
        if j is None:
            from uedge_fw import net_join as j

            self._join = j
        up = j.step(self, now)
        if up or self.state == "no_config":
            self._join = None
            release("uedge_fw.net_join")
        if up:
            self._ntp(now)
        return up

    def _status(self):
        try:
            return self.iface.status()
        except Exception:
            return None

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
