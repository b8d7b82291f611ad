"""What the firmware keeps in RAM: modules loaded on demand, buffers bounded by settings."""
import json
import os
import sys

import pytest
from fw_helpers import MICROPYTHON, ROOT, run_fw_script

sys.path.insert(0, os.path.join(ROOT, "firmware"))
from uedge_fw import settings as settings_mod  # noqa: E402


SCRIPT = """
import sys
sys.path[:0] = [%(lib)r, %(fw)r, %(board)r]
import board
from uedge_fw import app
from uedge.sources import lookup
loaded = lambda: sorted(m for m in sys.modules if m.startswith("uedge.modbus") or m.endswith("modbus_rtu"))
print("before", loaded(), lookup("Modbus_RTU") is not None)
a = app.App(board)
a.need_sources(["Onboard"])
print("onboard", loaded(), lookup("Modbus_RTU") is not None)
a.need_sources(["Onboard", "Modbus_RTU"])
print("rtu", len(loaded()) > 0, lookup("Modbus_RTU") is not None)
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_modbus_rtu_modules_load_only_when_a_channel_uses_them():
    out = run_fw_script(SCRIPT)
    assert "before [] False" in out
    assert "onboard [] False" in out
    assert "rtu True True" in out
    assert "uedge: Modbus_RTU loaded" in out


def test_settings_bound_buffers_and_batches(tmp_path):
    sp, xp = str(tmp_path / "settings.json"), str(tmp_path / "secrets.json")
    with open(sp, "w") as f:
        f.write(json.dumps({"device_id": "d1", "host": "h"}))
    s = settings_mod.load(sp, xp)
    assert s["max_update"] == 16384
    assert 0 < s["batch_items"] and 0 < s["batch_bytes"] <= 16384 and 0 < s["max_inflight"]
    for key, bad in (("max_update", 0), ("batch_bytes", "4k"), ("max_inflight", -1)):
        with open(sp, "w") as f:
            f.write(json.dumps({"device_id": "d1", "host": "h", key: bad}))
        with pytest.raises(settings_mod.SettingsError, match=key):
            settings_mod.load(sp, xp)


STEADY = """
import sys
sys.path[:0] = [%(lib)r, %(fw)r, %(board)r]
import board
from uedge_fw import app
from uedge_fw import start  # App.run: for the start, released after it
from uedge.compat import release
from uedge.transport import murano_mqtt
from uedge.outbox import segment
del start
release("uedge_fw.start")
print("loaded", " ".join(sorted(m for m in sys.modules if m.startswith("uedge"))))
"""

# loaded for one job and released after it on a board (uedge.compat.release):
# a steady MQTT loop never holds their bytecode
ON_DEMAND = ("uedge.pipeline.control", "uedge.sync.config_update", "uedge.transport.mqtt_provision",
             "uedge.transport.mqtt_content", "uedge_fw.settings", "uedge.config.config_io",
             "uedge.config.json_reader", "uedge.config.config_applications", "uedge.ota.fetch",
             "uedge.transport.http_client", "uedge.sources.onboard", "uedge.ota.updater", "uedge.sync.status",
             "uedge_fw.ota_check", "uedge_fw.start", "uedge.outbox.segment_scan",
             "uedge.transport.tls_setup")
# loaded the first time a report gathers that way: HTTP record slots, live
# batches (Edge(live_batch_ms=...)); a board's MQTT loop does neither
GATHER = ("uedge.sync.record_slots", "uedge.sync.live_batch")


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_the_firmware_imports_leave_the_on_demand_modules_out():
    out = run_fw_script(STEADY)
    line = [ln for ln in out if ln.startswith("loaded ")]
    assert line, out
    loaded = set(line[0].split()[1:])
    assert "uedge.edge" in loaded and "uedge.transport.murano_mqtt" in loaded
    assert not loaded & set(ON_DEMAND + GATHER), sorted(loaded & set(ON_DEMAND + GATHER))



BOOT = """
import builtins, os, sys
sys.path[:0] = [%(lib)r, %(fw)r, %(board)r]
os.chdir(%(tmp)r)
seen = set()
_imp = builtins.__import__
def imp(name, *a):
    seen.add(name)
    return _imp(name, *a)
builtins.__import__ = imp
exec(open(%(boot)r).read())
first = "uedge.ota.updater" in seen or "uedge.ota.files" in seen
from uedge.ota import has_state
print("first boot", first, has_state())
with open("ota.json", "w") as f:
    f.write('{"current": "0.2.0", "dir": "", "pending": true, "tries": 0}')
seen.clear()
exec(open(%(boot)r).read())
print("after an update", "uedge.ota.updater" in seen or "uedge.ota.files" in seen, has_state())
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_a_board_never_updated_does_not_load_the_updater(tmp_path):
    # boot.py and App.run look for ota.json first: no update was ever installed
    # on a freshly flashed board, so its heap never holds the updater's code or names
    out = run_fw_script(BOOT.replace("%(tmp)r", repr(str(tmp_path)))
                        .replace("%(boot)r", repr(os.path.join(ROOT, "firmware", "boot.py"))))
    assert "first boot False False" in out, out
    assert "after an update True True" in out, out
    with open(tmp_path / "ota.json") as f:
        assert json.load(f)["tries"] == 1  # boot_select counted the pending version's boot


@pytest.mark.parametrize("key", ["tls_reserve", "gc_threshold"])
def test_heap_settings_are_checked(tmp_path, key):
    sp, xp = str(tmp_path / "settings.json"), str(tmp_path / "secrets.json")

    def load(**extra):
        with open(sp, "w") as f:
            f.write(json.dumps(dict({"device_id": "d1", "host": "h"}, **extra)))
        return settings_mod.load(sp, xp)[key]

    # the TLS reserve: mbedTLS's in-record buffer alone is 16 KB; a collection every 16 KB allocated
    assert load() == {"tls_reserve": 23552, "gc_threshold": 16384}[key]
    for bad in (-1, "26k", None, 1.5):
        with pytest.raises(settings_mod.SettingsError, match=key):
            load(**{key: bad})
    assert load(**{key: 0}) == 0  # off
