"""The Onboard source: board-profile pin names -> ADC, digital in, digital out."""
from ptest import approx

from uedge.sources import SourceError, lookup
from uedge.sources import onboard


class FakePin:
    IN = 0
    OUT = 1
    PULL_UP = 2
    PULL_DOWN = 3
    levels = {}
    made = []

    def __init__(self, pin, mode=None, pull=None, value=None):
        self.pin = pin
        self.mode = mode
        self.pull = pull
        FakePin.made.append((pin, mode, pull))
        if value is not None:
            FakePin.levels[pin] = value

    def value(self, v=None):
        if v is None:
            return FakePin.levels.get(self.pin, 0)
        FakePin.levels[self.pin] = v


class FakeADC:
    values = {}
    ATTN_11DB = 3

    def __init__(self, src):
        self.key = src.pin if isinstance(src, FakePin) else "ch%d" % src
        self.att = None

    def read_u16(self):
        v = FakeADC.values.get(self.key, 0)
        if isinstance(v, list):
            return v.pop(0)
        return v

    def atten(self, a):
        self.att = a


class FakeMachine:
    Pin = FakePin
    ADC = FakeADC


class Board:
    NAME = "test"
    PINS = {"D0": 14, "D1": 15, "RELAY": 16, "LED": "LED"}
    ADC = {"A0": 26, "A1": 27, "TEMP": "ch4"}
    ADC_VREF = 3.3


class Ch:
    def __init__(self, cid, cfg):
        self.id = cid
        self.app_specific_config = cfg
        self.source_state = None


def make():
    FakePin.levels = {}
    FakePin.made = []
    FakeADC.values = {}
    onboard.configure(Board, FakeMachine)
    s = lookup("Onboard")("Onboard", None, {})
    s.open()
    return s


def test_registered_under_its_application_name():
    assert lookup("Onboard") is onboard.Onboard
    assert onboard.Onboard.writable


def test_check_channel_names_keys_and_board_pins():
    onboard.configure(Board, FakeMachine)
    c = onboard.Onboard.check_channel
    assert c("1", {"mode": "adc", "pin": "A0"}) is None
    assert c("1", {"mode": "din", "pin": "D0", "pull": "up"}) is None
    assert c("1", {"mode": "dout", "pin": "RELAY", "initial": True}) is None
    assert c("1", {"mode": "sys", "item": "mem_free"}) is None
    assert "app_specific_config.mode" in c("1", {"mode": "pwm", "pin": "D0"})
    msg = c("1", {"mode": "adc", "pin": "D0"})
    assert "app_specific_config.pin" in msg and "A0" in msg
    assert "digital" in c("1", {"mode": "din", "pin": "A9"})
    assert "app_specific_config.pull" in c("1", {"mode": "din", "pin": "D0", "pull": "sideways"})
    assert "samples" in c("1", {"mode": "adc", "pin": "A0", "samples": 0})
    assert "unit" in c("1", {"mode": "adc", "pin": "A0", "unit": "mV"})
    assert "invert" in c("1", {"mode": "din", "pin": "D0", "invert": "yes"})
    assert "item" in c("1", {"mode": "sys", "item": "cpu"})
    assert "pin" in c("1", {"mode": "din"})


def test_adc_raw_volts_average_and_internal_channel():
    s = make()
    FakeADC.values = {26: 32768, 27: [100, 200, 300, 400], "ch4": 14000}
    assert s.read(Ch("1", {"mode": "adc", "pin": "A0"})) == 32768
    assert approx(s.read(Ch("2", {"mode": "adc", "pin": "A0", "unit": "V"})), 32768 * 3.3 / 65535)
    assert s.read(Ch("3", {"mode": "adc", "pin": "A1", "samples": 4})) == 250
    assert s.read(Ch("4", {"mode": "adc", "pin": "TEMP"})) == 14000


def test_digital_input_pull_and_invert():
    s = make()
    FakePin.levels[14] = 1
    ch = Ch("5", {"mode": "din", "pin": "D0", "pull": "up"})
    assert s.read(ch) is True
    assert (14, FakePin.IN, FakePin.PULL_UP) in FakePin.made
    FakePin.levels[14] = 0
    assert s.read(ch) is False
    assert s.read(Ch("6", {"mode": "din", "pin": "D0", "invert": True})) is True
    # one driver object per pin, reused by both channels
    assert len([m for m in FakePin.made if m[0] == 14]) == 1


def test_digital_output_is_writable_and_reads_back():
    s = make()
    ch = Ch("7", {"mode": "dout", "pin": "RELAY"})
    assert s.read(ch) is False
    s.write(ch, True)
    assert FakePin.levels[16] == 1 and s.read(ch) is True
    s.write(ch, "false")
    assert FakePin.levels[16] == 0
    s.write(ch, 1)
    assert FakePin.levels[16] == 1
    inv = Ch("8", {"mode": "dout", "pin": "D1", "invert": True, "initial": False})
    assert FakePin.levels.get(15) is None
    s.read(inv)
    assert FakePin.levels[15] == 1  # inverted: logical off drives high
    s.write(inv, True)
    assert FakePin.levels[15] == 0


def test_bad_writes_and_reads_raise_source_errors():
    s = make()
    din = Ch("9", {"mode": "din", "pin": "D0"})
    try:
        s.write(din, True)
        raise AssertionError("wrote a din channel")
    except SourceError as e:
        assert "only dout" in str(e)
    dout = Ch("10", {"mode": "dout", "pin": "RELAY"})
    try:
        s.write(dout, "maybe")
        raise AssertionError("took 'maybe'")
    except SourceError as e:
        assert "true/false" in str(e)
    values = {}
    errors = {}
    bad = Ch("11", {"mode": "adc", "pin": "NOPE"})
    s.read_many([bad, Ch("12", {"mode": "adc", "pin": "A0"})], values, errors)
    assert "NOPE" in errors["11"] and values["12"] == 0


def test_pin_used_in_two_modes_is_an_error():
    s = make()
    s.read(Ch("13", {"mode": "din", "pin": "D1"}))
    try:
        s.read(Ch("14", {"mode": "dout", "pin": "D1"}))
        raise AssertionError("pin reused")
    except SourceError as e:
        assert "already used as din" in str(e)


def test_sys_items_are_numbers():
    s = make()
    for item in onboard.SYS_ITEMS:
        v = s.read(Ch("s", {"mode": "sys", "item": item}))
        assert isinstance(v, int) and v >= 0


def test_reopen_rebuilds_pin_objects():
    s = make()
    ch = Ch("15", {"mode": "dout", "pin": "RELAY"})
    s.write(ch, True)
    s.close()
    s.open()
    FakePin.made = []
    assert s.read(ch) is True
    assert len(FakePin.made) == 1


class BoardWithPinsFunction:
    """As the shipped profiles (boards/*/board.py): the digital pins come from
    pins(), built when asked, not from a table held since import."""

    NAME = "test2"
    ADC = {"A0": 26}
    calls = 0

    @staticmethod
    def pins():
        BoardWithPinsFunction.calls += 1
        t = {"LED": "LED"}
        for n in range(4):
            t["GP%d" % n] = n
        return t


def test_profile_pins_function_is_used_and_asked_once_per_source():
    FakePin.levels = {}
    FakePin.made = []
    onboard.configure(BoardWithPinsFunction, FakeMachine)
    c = onboard.Onboard.check_channel
    assert c("1", {"mode": "din", "pin": "GP3"}) is None
    msg = c("1", {"mode": "din", "pin": "GP9"})
    assert "GP9" in msg and "GP0" in msg
    s = lookup("Onboard")("Onboard", None, {})
    s.open()
    FakePin.levels[2] = 1
    din = Ch("1", {"mode": "din", "pin": "GP2"})
    dout = Ch("2", {"mode": "dout", "pin": "GP1"})
    assert s.read(din) is True
    s.write(dout, True)
    assert FakePin.levels[1] == 1
    n = BoardWithPinsFunction.calls
    for _ in range(5):  # set up once: sampling does not build the table again
        s.read(din)
        s.write(dout, False)
    assert BoardWithPinsFunction.calls == n and FakePin.levels[1] == 0
    onboard.configure(Board, FakeMachine)
