"""Gateway OTA: versioned directories + `current` symlink, restart command, rollback."""
import json
import os
import sys

import pytest
from fw_helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "host"))
from uedge.ota import fetch  # noqa: E402
from uedge.compat import Clock  # noqa: E402
from uedge.transport.murano_mqtt import MuranoMQTT  # noqa: E402
from uedge_host.ota import HostOta, make_gateway_bundle  # noqa: E402


def restart_cmd(tmp_path):
    marker = tmp_path / "restarts.txt"
    return [sys.executable, "-c", "open(%r, 'a').write('restart\\n')" % str(marker)], marker


def restarts(marker):
    return marker.read_text().count("restart") if marker.exists() else 0


@pytest.fixture
def device(connector, tmp_path):
    t = MuranoMQTT(connector.host, connector.mqtts_port, "gw-" + os.urandom(4).hex(),
                   credentials_path=str(tmp_path / "token"), ca=connector.ca_path, clock=Clock())
    t.connect()
    yield t
    t.close()


def upload(conn, mpath, apath, corrupt=False):
    with open(mpath, "rb") as f:
        conn.upload_content(os.path.basename(mpath), f.read(), "application/json")
    with open(apath, "rb") as f:
        data = f.read()
    if corrupt:
        data = data[:-1] + bytes([data[-1] ^ 1])
    conn.upload_content(os.path.basename(apath), data)


def test_install_switches_symlink_restarts_and_confirms(tmp_path, connector, device):
    cmd, marker = restart_cmd(tmp_path)
    base = str(tmp_path / "opt")
    mpath, apath, m = make_gateway_bundle("1.1.0", str(tmp_path / "ota"))
    upload(connector, mpath, apath)
    o = HostOta(base, version="1.0.0", restart_cmd=cmd)
    o.on_start()
    assert o.current_target() == "factory"
    assert o.update_and_restart(device) == "1.1.0"
    assert restarts(marker) == 1
    assert o.current_target() == "versions/1.1.0"
    # the unpacked bundle is the importable application
    assert os.path.isfile(os.path.join(base, "current", "uedge", "ota", "updater.py"))
    assert os.path.isfile(os.path.join(base, "current", "uedge_host", "ota.py"))
    # the restarted service starts, reaches the connector, confirms
    o2 = HostOta(base, version="1.0.0", restart_cmd=cmd, confirm_timeout_s=60)
    assert not o2.on_start()
    o2.start(0)
    assert o2.pending

    class Edge:
        connected = True

    assert not o2.poll_edge(Edge(), 1000)
    assert not o2.pending
    assert json.load(open(os.path.join(base, "ota.json")))["current"] == "1.1.0"
    assert o2.poll(10 ** 9) is False


def test_bad_hash_never_touches_current(tmp_path, connector, device):
    cmd, marker = restart_cmd(tmp_path)
    base = str(tmp_path / "opt")
    mpath, apath, _m = make_gateway_bundle("1.2.0", str(tmp_path / "ota"))
    upload(connector, mpath, apath, corrupt=True)
    o = HostOta(base, version="1.0.0", restart_cmd=cmd)
    o.on_start()
    assert o.update_and_restart(device) is None
    assert "sha256" in o.last_error
    assert o.current_target() == "factory"
    assert not os.path.exists(os.path.join(base, "versions", "1.2.0"))
    assert restarts(marker) == 0


def test_no_contact_in_time_rolls_back_and_restarts(tmp_path, connector, device):
    cmd, marker = restart_cmd(tmp_path)
    base = str(tmp_path / "opt")
    for v in ("1.1.0", "1.3.0"):
        mpath, apath, _m = make_gateway_bundle(v, str(tmp_path / "ota"))
        upload(connector, mpath, apath)
    o = HostOta(base, version="1.0.0", restart_cmd=cmd)
    assert o.update_and_restart(device) == "1.3.0"
    o2 = HostOta(base, version="1.0.0", restart_cmd=cmd, confirm_timeout_s=5)
    o2.on_start()
    o2.start(0)

    class Offline:
        connected = False

    assert not o2.poll_edge(Offline(), 4999)
    assert o2.poll_edge(Offline(), 5000)
    assert o2.current_target() == "factory"
    assert restarts(marker) == 2
    st = json.load(open(os.path.join(base, "ota.json")))
    assert st["current"] == "1.0.0" and st["bad"] == ["1.3.0"]
    # 1.3.0 is not offered again; 1.1.0 is older than 1.3.0 but newer than 1.0.0
    o3 = HostOta(base, version="1.0.0", restart_cmd=cmd)
    assert o3.update(device) == "1.1.0"


def test_crash_looping_service_rolls_back_at_start(tmp_path):
    base = str(tmp_path / "opt")
    m, archive = fetch.build_bundle("uedge-gateway", "2.0.0", [("uedge/x.py", b"x = 1\n")])
    (tmp_path / "m.json").write_text(json.dumps(m))
    (tmp_path / "a.uea").write_bytes(archive)
    o = HostOta(base, version="1.0.0", max_tries=2)
    assert o.install_files(str(tmp_path / "m.json"), str(tmp_path / "a.uea")) == "2.0.0"
    assert o.current_target() == "versions/2.0.0"
    assert not HostOta(base, version="1.0.0", max_tries=2).on_start()
    assert not HostOta(base, version="1.0.0", max_tries=2).on_start()
    o3 = HostOta(base, version="1.0.0", max_tries=2)
    assert o3.on_start()
    assert o3.current_target() == "factory"
    assert o3.version == "1.0.0"


def test_cli_status_and_bundle(tmp_path):
    import subprocess

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "lib"), os.path.join(ROOT, "host")]))
    out = subprocess.run([sys.executable, "-m", "uedge_host.ota", "bundle", "--version", "3.0.0",
                          "--out", str(tmp_path / "b")], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "uedge-gateway-3.0.0.json" in out
    m = json.load(open(tmp_path / "b" / "uedge-gateway-3.0.0.json"))
    assert fetch.check_manifest(m) is None
    base = str(tmp_path / "opt")
    r = subprocess.run([sys.executable, "-m", "uedge_host.ota", "install",
                        str(tmp_path / "b" / "uedge-gateway-3.0.0.json"),
                        str(tmp_path / "b" / "uedge-gateway-3.0.0.uea"), "--base", base],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(subprocess.run([sys.executable, "-m", "uedge_host.ota", "status", "--base", base],
                                   env=env, capture_output=True, text=True, check=True).stdout)
    assert st["version"] == "3.0.0" and st["pending"] and st["current_link"] == "versions/3.0.0"
