"""Firmware modules without a board: LED patterns, network state machine, settings."""
import json
import os
import sys

import pytest
from fw_helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "firmware"))
from uedge_fw import settings as settings_mod  # noqa: E402
from uedge_fw.led import StatusLed  # noqa: E402
from uedge_fw.net import Network  # noqa: E402


class Pin:
    def __init__(self):
        self.levels = []

    def value(self, v):
        self.levels.append(v)


def levels_over(led, start, end, step=50):
    out = []
    for t in range(start, end, step):
        led.poll(t)
        out.append(led._level)
    return out


def test_led_patterns():
    pin = Pin()
    logged = []
    led = StatusLed(pin, log=logged.append)
    led.set("connected", 0)
    assert levels_over(led, 0, 1000) == [True] * 20
    led.set("no_network", 1000)
    assert levels_over(led, 1000, 1400) == [True, True, False, False, True, True, False, False]
    led.set("connecting", 2000)
    lv = levels_over(led, 2000, 3000, 100)
    assert lv == [True] * 5 + [False] * 5
    led.set("error", 3000)
    lv = levels_over(led, 3000, 4000, 100)
    assert lv == [True, False, True] + [False] * 7  # double blink, then a pause
    assert logged == ["led: connected", "led: no_network", "led: connecting", "led: error"]
    led.set("error", 4000)  # same pattern: not logged again
    assert len(logged) == 4
    inv = Pin()
    led2 = StatusLed(inv, active_low=True)
    led2.set("connected", 0)
    assert inv.levels == [0]


class FakeWLAN:
    def __init__(self, net, iface):
        self.net = net
        self.on = False
        self.st = 0
        self.polls = 0

    def active(self, v=None):
        if v is not None:
            self.on = v
        return self.on

    def connect(self, ssid, key):
        self.net.attempts.append(ssid)
        self.polls = 0
        self.st = 1 if (ssid, key) in self.net.good else -3

    def disconnect(self):
        self.st = 0

    def status(self):
        if self.st == 1:
            self.polls += 1
            if self.polls >= 2:
                self.st = 3
        if self.st == 3 and self.net.drop:
            self.st = -1
        return self.st

    def isconnected(self):
        return self.status() == 3

    def ifconfig(self):
        return ("10.0.0.5", "", "", "")


class FakeNetwork:
    STA_IF = 0
    STAT_IDLE = 0
    STAT_CONNECTING = 1
    STAT_GOT_IP = 3
    STAT_CONNECT_FAIL = -1
    STAT_WRONG_PASSWORD = -3

    def __init__(self, good):
        self.good = good
        self.attempts = []
        self.drop = False

    def WLAN(self, iface):
        return FakeWLAN(self, iface)


class FakeNtp:
    host = None

    def __init__(self, fail=0):
        self.fail = fail
        self.calls = 0

    def settime(self):
        self.calls += 1
        if self.calls <= self.fail:
            raise OSError(110)


class Board:
    NAME = "test"


def test_network_tries_each_ap_with_backoff_then_syncs_time():
    net = FakeNetwork(good={("b", "pw-b")})
    ntp = FakeNtp(fail=1)
    logs = []
    s = {"wifi": [{"ssid": "a", "password": "x"}, {"ssid": "b", "password": "pw-b"}], "ntp_host": "ntp.local"}
    n = Network(Board, s, network=net, ntptime=ntp, log=logs.append)
    t = 0
    while not n.up and t < 60000:
        n.poll(t)
        t += 100
    assert n.up and net.attempts == ["a", "b"]
    assert any("STAT_WRONG_PASSWORD" in ln for ln in logs)
    assert not n.synced  # first NTP try failed
    for _ in range(400):
        t += 100
        n.poll(t)
    assert n.synced and ntp.host == "ntp.local"
    net.drop = True
    n.poll(t)
    assert not n.up and any("link lost" in ln for ln in logs)


def test_network_without_wifi_settings_says_so():
    logs = []
    n = Network(Board, {"wifi": []}, network=FakeNetwork(set()), ntptime=None, log=logs.append)
    assert n.poll(0) is False
    assert n.state == "no_config" and "no wifi configured" in logs[0]


def test_settings_load_merge_and_errors(tmp_path):
    sp, xp = str(tmp_path / "settings.json"), str(tmp_path / "secrets.json")
    with pytest.raises(settings_mod.SettingsError, match="missing"):
        settings_mod.load(sp, xp)
    open(sp, "w").write(json.dumps({"device_id": "d1", "host": "h", "wifi": [{"ssid": "a"}, {"ssid": "b"}]}))
    open(xp, "w").write(json.dumps({"wifi_password": "common", "wifi_password_b": "special"}))
    s = settings_mod.load(sp, xp)
    assert s["protocol"] == "mqtt" and s["tls"] is True and s["wdt"] is True
    assert [w["password"] for w in s["wifi"]] == ["common", "special"]
    open(sp, "w").write(json.dumps({"device_id": "", "host": "h"}))
    with pytest.raises(settings_mod.SettingsError, match="device_id"):
        settings_mod.load(sp, xp)
    open(sp, "w").write(json.dumps({"device_id": "d", "host": "h", "protocol": "coap"}))
    with pytest.raises(settings_mod.SettingsError, match="protocol"):
        settings_mod.load(sp, xp)
    open(sp, "w").write("{broken")
    with pytest.raises(settings_mod.SettingsError, match="not valid JSON"):
        settings_mod.load(sp, xp)


def test_replay_waits_for_a_set_clock(monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "machine", types.ModuleType("machine"))
    from uedge_fw import app

    class Net:
        synced = False

    class Clock:
        def __init__(self, us):
            self.us = us

        def epoch_us(self):
            return self.us

    net = Net()
    assert not app.clock_is_set(net, Clock(946684800 * 10**6 + 5))  # RTC at its 2000 default
    assert app.clock_is_set(net, Clock(1767225600 * 10**6))  # an RTC that kept the time
    net.synced = True
    assert app.clock_is_set(net, Clock(946684800 * 10**6))
