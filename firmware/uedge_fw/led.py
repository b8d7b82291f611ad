"""The status LED.  Patterns (one period each, repeated):

  fast blink    100 ms on / 100 ms off   no network (WiFi/LAN not up)
  slow blink    500 ms on / 500 ms off   network up, connecting to the IoT Connector
  steady on                              connected
  double blink  2 x 100 ms, then 700 ms off   error (settings missing, not
                                         authorized, crashed: restarting)
  flicker       50 ms on / 50 ms off     OTA update in progress
"""

PATTERNS = {
    "no_network": (100, 100),
    "connecting": (500, 500),
    "connected": (),
    "error": (100, 100, 100, 700),
    "ota": (50, 50),
    "off": None,
}


class StatusLed:
    def __init__(self, pin=None, active_low=False, log=None):
        self.pin = pin
        self.active_low = active_low
        self.log = log
        self.pattern = None
        self._steps = None
        self._t0 = 0
        self._level = None

    def set(self, name, now_ms=0):
        if name == self.pattern:
            return
        self.pattern = name
        self._steps = PATTERNS[name]
        self._t0 = now_ms
        if self.log:
            self.log("led: %s" % name)
        self.poll(now_ms)

    def _drive(self, on):
        if on == self._level or self.pin is None:
            return
        self._level = on
        try:
            self.pin.value(1 if on != self.active_low else 0)
        except Exception:
            pass

    def poll(self, now_ms):
        steps = self._steps
        if steps is None:
            self._drive(False)
            return
        if not steps:
            self._drive(True)
            return
        period = 0
        for s in steps:
            period += s
        t = (now_ms - self._t0) % period
        on = True
        for s in steps:
            if t < s:
                break
            t -= s
            on = not on
        self._drive(on)
