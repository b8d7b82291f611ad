"""Firmware tests' helpers: the real firmware on a virtual board (MicroPython
unix port) talking to the local IoT Connector over loopback. (A module of its
own name, imported by the tests, so that it never meets another directory's
conftest.py in sys.modules; conftest.py holds the fixtures.)

With UEDGE_TEST_PORT=/dev/ttyACM0 (and UEDGE_TEST_BOARD=rp2040|esp32,
UEDGE_TEST_HOST=<this machine's LAN address>, UEDGE_TEST_WIFI_SSID/PASSWORD)
the same tests run on an attached board through mpremote; the ones that need
simulated hardware (setting ADC values, reading outputs) are skipped there.
"""

import json
import os
import shutil
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(ROOT, "tools"), os.path.join(ROOT, "tools", "connector"),
          os.path.join(ROOT, "lib"), os.path.join(ROOT, "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

from uedge_connector.testing import running_connector  # noqa: E402
from virtual_board import VirtualBoard  # noqa: E402

REAL_PORT = os.environ.get("UEDGE_TEST_PORT")
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def run_fw_script(script):
    """Run script (a %-template of lib, fw, board paths) on the unix-port
    MicroPython with the simulated hardware modules -> its stdout lines;
    fails the test when it exits non-zero."""
    import subprocess

    code = script % {"lib": os.path.join(ROOT, "lib"), "fw": os.path.join(ROOT, "firmware"),
                     "board": os.path.join(ROOT, "boards", "rp2040")}
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "tools", "virtual_board", "mpy"))
    r = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.splitlines()
BOARD = os.environ.get("UEDGE_TEST_BOARD", "rp2040")
WIFI = {"ssid": "uedge-lab", "password": "correct horse"}

# Per-board pin names used by the tests: name in the board profile, simulated key.
PINS = {
    "rp2040": {"adc": ("A0", "26"), "adc2": ("A1", "27"), "din": ("GP14", "14"),
               "dout": ("GP16", "16"), "temp": ("TEMP", "ch4")},
    "esp32": {"adc": ("A0", "36"), "adc2": ("A4", "32"), "din": ("GPIO14", "14"),
              "dout": ("GPIO25", "25"), "temp": None},
}
SIM_BOARDS = ("rp2040", "esp32") if not os.environ.get("UEDGE_TEST_PORT") else (BOARD,)


@pytest.fixture
def connector(tmp_path):
    host = os.environ.get("UEDGE_TEST_HOST", "127.0.0.1") if REAL_PORT else "127.0.0.1"
    with running_connector(str(tmp_path / "connector"), host=host) as conn:
        yield conn


def device_id():
    return "fw-" + uuid.uuid4().hex[:10]


def board_settings(conn, dev, **extra):
    s = {
        "device_id": dev,
        "host": conn.host,
        "port": conn.mqtts_port,
        "tls": True,
        "ca": "ca.pem",
        "wifi": {"ssid": os.environ.get("UEDGE_TEST_WIFI_SSID", WIFI["ssid"])},
        "ntp_wait_s": 5,
        "ota": {"check_s": 0},
    }
    s.update(extra)
    return s


def board_secrets():
    return {"wifi_password": os.environ.get("UEDGE_TEST_WIFI_PASSWORD", WIFI["password"])}


class RealBoard:
    """The same surface as VirtualBoard, on hardware through mpremote + the serial console."""

    simulated = False

    def __init__(self, workdir, board, settings, secrets, ca_path, version=None, **_):
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import deploy

        self.deploy = deploy
        self.build = os.path.join(workdir, "build")
        deploy.build(board, self.build, version=version, quiet=True)
        dev = os.path.join(self.build, "device")
        os.makedirs(dev, exist_ok=True)
        deploy.write_private(os.path.join(dev, "settings.json"), json.dumps(settings))
        deploy.write_private(os.path.join(dev, "secrets.json"), json.dumps(secrets))
        shutil.copyfile(ca_path, os.path.join(dev, "ca.pem"))
        self.board = board
        self.lines = []
        self.serial = None

    def start(self):
        import serial

        self.deploy.flash(self.board, REAL_PORT, self.build)
        self.serial = serial.Serial(REAL_PORT, 115200, timeout=0.1)
        return self

    def stop(self):
        if self.serial is not None:
            self.serial.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _pump(self):
        data = self.serial.read(4096) if self.serial else b""
        if data:
            self.lines.extend(data.decode("utf-8", "replace").splitlines())

    def log(self):
        self._pump()
        return "\n".join(self.lines)

    def mark(self):
        self._pump()
        return len(self.lines)

    def count(self, text):
        self._pump()
        return sum(1 for ln in self.lines if text in ln)

    def wait_for(self, text, timeout=30.0, after=0, count=1):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._pump()
            if sum(1 for ln in self.lines[after:] if text in ln) >= count:
                return True
        raise AssertionError("board never logged %r" % text)

    def wait_until(self, fn, timeout=30.0, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self._pump()
            v = fn()
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for %s" % what)

    def _sim_only(self, *a, **k):
        pytest.skip("needs simulated hardware")

    set_adc = set_input = output = update_hw = _sim_only


def make_board(tmp_path, conn, dev=None, hw=None, settings=None, version=None, board=None):
    board = board or BOARD
    dev = dev or device_id()
    s = board_settings(conn, dev, **(settings or {}))
    if REAL_PORT:
        return RealBoard(str(tmp_path / "board"), board, s, board_secrets(), conn.ca_path,
                         version=version)
    base = {"wifi": dict(WIFI), "adc": {}, "pins": {}}
    for k, v in (hw or {}).items():
        base[k] = v
    with open(conn.ca_path, "rb") as f:
        ca = f.read()
    vb = VirtualBoard(str(tmp_path / "board"), board, s, board_secrets(), hw=base,
                      version=version, echo=bool(os.environ.get("UEDGE_TEST_ECHO")),
                      files={"ca.pem": ca})
    vb.simulated = True
    vb.device_id = dev
    return vb


def sim_only(vb):
    if not getattr(vb, "simulated", False):
        pytest.skip("needs simulated hardware")


def channel(app_cfg, data_type="NUMBER", unit="NONE", rate=500, control=False, **pc):
    props = {"data_type": data_type, "data_unit": unit}
    if control:
        props["control"] = True
    protocol = {"application": "Onboard", "report_rate": rate, "sample_rate": rate,
                "app_specific_config": app_cfg}
    protocol.update(pc)
    return {"display_name": json.dumps(app_cfg), "properties": props, "protocol_config": protocol}


def config_io(channels, edited="2026-01-01T00:00:00Z"):
    return json.dumps({"last_edited": edited, "channels": channels})


def values(conn, dev, cid):
    """Every reported value of one channel, oldest first: [(ts_us, value)]."""
    out = []
    for ts, payload in conn.history(dev, "data_in"):
        try:
            d = json.loads(payload)
        except ValueError:
            continue
        if isinstance(d, dict) and cid in d:
            out.append((ts, d[cid]))
    return out


def wait_value(conn, dev, cid, pred, timeout=20.0):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        seen = values(conn, dev, cid)
        for _ts, v in seen:
            if pred(v):
                return v
        time.sleep(0.1)
    raise AssertionError("channel %s never reported a matching value; got %r" % (cid, seen[-10:]))
