"""OTA on the virtual board: apply, reject a bad hash, roll back what cannot connect."""
import json
import os
import sys

from fw_helpers import BOARD, PINS, ROOT, channel, config_io, make_board, sim_only, wait_value

sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402

OTA = {"check_s": 1, "confirm_s": 30}

# A release whose transport never reaches the connector (e.g. a broken TLS or
# host change): it must be rolled back after confirm_s.
UNREACHABLE_MURANO = '''
class MuranoError(Exception):
    pass


class AuthError(MuranoError):
    pass


class MuranoMQTT:
    def __init__(self, host, port=None, **kw):
        self.connected = False
        self.on_update = self.on_ack = self.on_state = None

    def poll(self, now_ms=None):
        pass

    def close(self):
        pass

    def write(self, alias, value):
        raise MuranoError("unreachable")

    def write_many(self, values):
        raise MuranoError("unreachable")

    def record(self, entries):
        raise MuranoError("unreachable")
'''


def publish(conn, tmp_path, version, overrides=None, corrupt=False):
    out = str(tmp_path / "ota")
    mpath, apath, m = deploy.make_bundle(
        BOARD, version, out_dir=out, build_out=str(tmp_path / ("b-" + version)), overrides=overrides)
    with open(apath, "rb") as f:
        archive = f.read()
    if corrupt:  # same size, different bytes: only the hash can tell
        archive = archive[:100] + bytes([archive[100] ^ 0xFF]) + archive[101:]
    with open(mpath, "rb") as f:
        conn.upload_content(os.path.basename(mpath), f.read(), "application/json")
    conn.upload_content(os.path.basename(apath), archive, "application/octet-stream")
    return m


def test_ota_bundle_is_applied_and_confirmed(tmp_path, connector):
    conn = connector
    publish(conn, tmp_path, "0.2.0")
    pin, key = PINS[BOARD]["adc"]
    vb = make_board(tmp_path, conn, hw={"adc": {key: 7}}, settings={"ota": OTA})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": pin}),
        }))
        vb.wait_for("ota: installed 0.2.0", 30)
        vb.wait_for("boot: running apps/0.2.0", 20)
        vb.wait_for("uedge: firmware 0.2.0", 20)
        vb.wait_for("running version 0.2.0 (pending confirmation)", 20)
        vb.wait_for("ota: confirmed 0.2.0", 30)
        st = json.load(open(vb.file("ota.json")))
        assert st["current"] == "0.2.0" and st["previous"] == "0.1.0" and not st["pending"]
        # the new version reports with the cached config
        m = vb.mark()
        vb.set_adc(key, 8)
        wait_value(conn, dev, "001", lambda v: v == 8)
        assert vb.count("ota: installed") == 1 and m > 0


def test_ota_bad_hash_is_rejected_before_install(tmp_path, connector):
    conn = connector
    publish(conn, tmp_path, "0.2.0", corrupt=True)
    vb = make_board(tmp_path, conn, settings={"ota": OTA})
    sim_only(vb)
    with vb:
        vb.wait_for("uedge: connected", 20)
        vb.wait_for("ota: rejected uedge-%s 0.2.0: archive sha256" % BOARD, 30)
        assert not os.path.exists(vb.file("apps/0.2.0"))
        assert not os.path.exists(vb.file("apps/0.2.0.part"))
        assert not os.path.exists(vb.file("ota.stage"))
        # retried a few times, then left alone; never installed, never restarted
        vb.wait_for("ota: rejected", 30, count=3)
        assert vb.boots == 1
        assert vb.count("ota: installed") == 0
        st = json.load(open(vb.file("ota.json")))
        assert st["current"] == "0.1.0" or st.get("current") is None


def test_ota_version_that_cannot_connect_is_reverted(tmp_path, connector):
    conn = connector
    publish(conn, tmp_path, "0.3.0", overrides={"lib/uedge/transport/murano_mqtt.py": UNREACHABLE_MURANO})
    vb = make_board(tmp_path, conn, settings={"ota": {"check_s": 1, "confirm_s": 4}})
    sim_only(vb)
    with vb:
        vb.wait_for("ota: installed 0.3.0", 30)
        vb.wait_for("running version 0.3.0 (pending confirmation)", 20)
        vb.wait_for("ota: rolled back 0.3.0 to 0.1.0: connector not reached within 4 s", 30)
        vb.wait_for("uedge: firmware 0.1.0", 20, count=2)
        m = vb.mark()
        vb.wait_for("uedge: connected", 30, after=m)
        st = json.load(open(vb.file("ota.json")))
        assert st["current"] == "0.1.0" and "0.3.0" in st["bad"] and not st["pending"]
        # the failed version is not taken again
        vb.wait_for("uedge: connected", 5, after=m)
        assert vb.count("ota: installed 0.3.0") == 1


def test_ota_version_that_crashes_at_start_is_reverted_at_boot(tmp_path, connector):
    conn = connector
    publish(conn, tmp_path, "0.4.0",
            overrides={"lib/uedge_fw/app.py": "raise RuntimeError('broken release')\n"})
    vb = make_board(tmp_path, conn, settings={"ota": {"check_s": 1, "confirm_s": 60}})
    sim_only(vb)
    with vb:
        vb.wait_for("ota: installed 0.4.0", 30)
        vb.wait_for("main: application crashed, restarting", 20)
        vb.wait_for("ota: rolled back 0.4.0 to 0.1.0: not confirmed after 2 boots", 30)
        m = vb.mark()
        vb.wait_for("uedge: connected", 30, after=m)
        assert "broken release" in open(vb.file("crash.txt")).read()
