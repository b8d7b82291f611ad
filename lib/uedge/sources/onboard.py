"""On-board I/O of a MicroPython board: ADC inputs, digital inputs and outputs.

Application name: "Onboard".  Channels pick a pin by the board profile's
name (boards/<board>/board.py), never by a raw GPIO number, so one config_io
runs on every board that has the same names:

  "protocol_config": {
    "application": "Onboard",
    "app_specific_config": {"mode": "adc", "pin": "A0"}
  }

app_specific_config keys:
  mode     "adc" | "din" | "dout" | "sys"                      (required)
  pin      a name from the board profile's ADC (mode adc) or PINS (din/dout)
  pull     "up" | "down" | "none"        din only, default "none"
  invert   true | false                  din/dout: report/drive the inverse
  samples  1..64                         adc: average this many reads
  unit     "raw" | "V"                   adc: read_u16 counts (0..65535, the
                                         default) or volts (board ADC_VREF);
                                         input_raw/multiplier/offset scaling
                                         is the core pipeline's job
  initial  true | false                  dout: level driven when opened (without
                                         it the pin keeps its current level)
  item     "mem_free" | "mem_alloc" | "uptime_s"   sys: device diagnostics

dout channels are control channels: the source is writable and
write(channel, value) drives the pin (True/False/1/0).
"""

from uedge.sources import Source, SourceError, register

APPLICATION = "Onboard"
MODES = ("adc", "din", "dout", "sys")
SYS_ITEMS = ("mem_free", "mem_alloc", "uptime_s")

_board = None
_machine = None


def configure(board=None, machine=None):
    """Select the board profile and machine module (tests pass stand-ins)."""
    global _board, _machine
    _board = board
    _machine = machine


def _get_board():
    global _board
    if _board is None:
        import board  # the board profile on the device's library path

        _board = board
    return _board


def _get_machine():
    global _machine
    if _machine is None:
        import machine

        _machine = machine
    return _machine


def _table(name):
    try:
        b = _get_board()
    except ImportError:
        return None
    if name == "PINS":
        return pins_of(b)
    return getattr(b, name, None)


def pins_of(board):
    """The digital pins of a board profile: its pins() (the profiles here build
    the table when asked), else a PINS dict (a profile of one's own)."""
    f = getattr(board, "pins", None)
    return f() if f is not None else getattr(board, "PINS", None)


class Onboard(Source):
    writable = True

    @classmethod
    def check_channel(cls, channel_id, cfg):
        if not isinstance(cfg, dict):
            return "app_specific_config must be an object"
        mode = cfg.get("mode")
        if mode not in MODES:
            return "app_specific_config.mode must be one of %s, got %r" % (", ".join(MODES), mode)
        if mode == "sys":
            if cfg.get("item") not in SYS_ITEMS:
                return "app_specific_config.item must be one of %s, got %r" % (
                    ", ".join(SYS_ITEMS),
                    cfg.get("item"),
                )
            return None
        pin = cfg.get("pin")
        if not isinstance(pin, str) or not pin:
            return "app_specific_config.pin must be a pin name of the board profile"
        table = _table("ADC" if mode == "adc" else "PINS")
        if table is not None and pin not in table:
            return "app_specific_config.pin %r is not a%s pin of this board (have %s)" % (
                pin,
                "n ADC" if mode == "adc" else " digital",
                ", ".join(sorted(table)),
            )
        if mode == "din" and cfg.get("pull", "none") not in ("up", "down", "none", None):
            return "app_specific_config.pull must be up, down or none, got %r" % (cfg.get("pull"),)
        if mode == "adc":
            s = cfg.get("samples", 1)
            if not isinstance(s, int) or isinstance(s, bool) or s < 1 or s > 64:
                return "app_specific_config.samples must be 1..64, got %r" % (s,)
            if cfg.get("unit", "raw") not in ("raw", "V"):
                return "app_specific_config.unit must be raw or V, got %r" % (cfg.get("unit"),)
        for key in ("invert", "initial"):
            if key in cfg and not isinstance(cfg[key], bool):
                return "app_specific_config.%s must be true or false" % key
        return None

    def open(self):
        self.machine = _get_machine()
        self.board = _get_board()
        self.pins = pins_of(self.board) or {}
        self.vref = getattr(self.board, "ADC_VREF", 3.3)
        self._pins = {}  # pin name -> (mode, object): one driver object per pin
        self._gen = object()  # channel.source_state from an earlier open() is stale

    def _setup(self, channel):
        st = channel.source_state
        if st is not None and st[5] is self._gen:
            return st
        cfg = channel.app_specific_config or {}
        err = self.check_channel(channel.id, cfg)
        if err:
            raise SourceError(err)
        mode = cfg["mode"]
        m = self.machine
        if mode == "sys":
            st = (mode, cfg["item"], False, 1, False, self._gen)
        else:
            name = cfg["pin"]
            have = self._pins.get(name)
            if have is not None and have[0] != mode:
                raise SourceError("pin %s is already used as %s" % (name, have[0]))
            if mode == "adc":
                obj = have[1] if have else self._adc(self.board.ADC[name])
                st = (mode, obj, False, cfg.get("samples", 1), cfg.get("unit") == "V", self._gen)
            else:
                invert = bool(cfg.get("invert", False))
                if have:
                    obj = have[1]
                elif mode == "din":
                    pull = {"up": m.Pin.PULL_UP, "down": getattr(m.Pin, "PULL_DOWN", None)}.get(
                        cfg.get("pull")
                    )
                    obj = m.Pin(self.pins[name], m.Pin.IN, pull)
                elif "initial" in cfg:
                    level = bool(cfg["initial"]) != invert
                    obj = m.Pin(self.pins[name], m.Pin.OUT, value=int(level))
                else:  # keep whatever level the pin already drives
                    obj = m.Pin(self.pins[name], m.Pin.OUT)
                st = (mode, obj, invert, 1, False, self._gen)
            self._pins[name] = (mode, st[1])
        channel.source_state = st
        return st

    def _adc(self, ref):
        m = self.machine
        if isinstance(ref, str) and ref.startswith("ch"):
            adc = m.ADC(int(ref[2:]))  # an internal channel, e.g. the RP2040 sensor
        else:
            adc = m.ADC(m.Pin(ref))
            atten = getattr(self.board, "ADC_ATTEN", None)
            if atten and hasattr(adc, "atten"):
                adc.atten(getattr(m.ADC, atten))
        return adc

    def read(self, channel):
        mode, obj, invert, samples, volts, _ = self._setup(channel)
        if mode == "adc":
            total = 0
            for _ in range(samples):
                total += obj.read_u16()
            raw = total // samples if samples > 1 else total
            if volts:
                return raw * self.vref / 65535
            return raw
        if mode == "sys":
            return _sys_item(obj)
        return bool(obj.value()) != invert

    def write(self, channel, value):
        mode, obj, invert, _, _, _ = self._setup(channel)
        if mode != "dout":
            raise SourceError("channel %s is a %s channel, only dout can be written" % (channel.id, mode))
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("1", "true", "on"):
                value = True
            elif v in ("0", "false", "off"):
                value = False
            else:
                raise SourceError("channel %s takes true/false, got %r" % (channel.id, value))
        obj.value(1 if bool(value) != invert else 0)

    def close(self):
        self._pins = {}


def _sys_item(item):
    import gc

    if item == "mem_free":
        return gc.mem_free() if hasattr(gc, "mem_free") else 0
    if item == "mem_alloc":
        return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    import time

    if hasattr(time, "ticks_ms"):
        return time.ticks_ms() // 1000
    return int(time.monotonic())


register(APPLICATION, Onboard)
