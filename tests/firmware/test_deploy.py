"""tools/deploy.py: build per board with mpy-cross, provision files, flash into a directory."""
import json
import os
import stat
import subprocess
import sys

from fw_helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402


def test_build_compiles_everything_for_each_board_arch(tmp_path):
    for board in ("rp2040", "esp32"):
        out = str(tmp_path / board)
        sizes = deploy.build(board, out, quiet=True)
        assert sizes["boot.py"] > 0 and sizes["main.py"] > 0
        assert "lib/board.mpy" in sizes and "lib/uedge_fw/app.mpy" in sizes
        assert "lib/uedge/ota/updater.mpy" in sizes and "lib/uedge/sources/onboard.mpy" in sizes
        n_src = len([f for f in deploy.source_files(board) if f[1].startswith("lib/")])
        assert len([k for k in sizes if k.endswith(".mpy")]) == n_src
        with open(os.path.join(out, "lib", "uedge", "edge.mpy"), "rb") as f:
            head = f.read(4)
        assert head[0:1] == b"M" and head[1] == 6  # mpy v6


def test_bundle_version_override_and_manifest(tmp_path):
    mpath, apath, m = deploy.make_bundle("rp2040", "9.8.7", out_dir=str(tmp_path / "ota"),
                                         build_out=str(tmp_path / "b"))
    assert os.path.basename(mpath) == "uedge-rp2040-9.8.7.json"
    assert m["name"] == "uedge-rp2040" and m["version"] == "9.8.7"
    paths = [f["path"] for f in m["files"]]
    assert "uedge_fw/version.mpy" in paths and "board.mpy" in paths
    assert os.path.getsize(apath) == m["size"]


def test_provision_writes_private_settings_and_flash_dir_copies(tmp_path):
    out = str(tmp_path / "build")
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "provision", "--board", "esp32",
         "--out", out, "--device-id", "pump-7", "--host", "x.example.io", "--wifi-ssid", "plant",
         "--wifi-password", "s3cret", "--ota-check-s", "600"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    dev = os.path.join(out, "device")
    for fn in ("settings.json", "secrets.json"):
        assert stat.S_IMODE(os.stat(os.path.join(dev, fn)).st_mode) == 0o600
    s = json.load(open(os.path.join(dev, "settings.json")))
    assert s["device_id"] == "pump-7" and s["host"] == "x.example.io"
    assert s["wifi"] == {"ssid": "plant"} and s["ota"]["check_s"] == 600
    assert "s3cret" not in open(os.path.join(dev, "settings.json")).read()
    assert json.load(open(os.path.join(dev, "secrets.json")))["wifi_password"] == "s3cret"
    target = str(tmp_path / "board")
    deploy.build("esp32", out, quiet=True)
    deploy.flash("esp32", "dir:" + target, out)
    assert os.path.isfile(os.path.join(target, "lib", "uedge", "edge.mpy"))
    assert os.path.isfile(os.path.join(target, "settings.json"))
    assert os.path.isfile(os.path.join(target, "main.py"))


def test_provision_without_answers_names_the_missing_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UEDGE_")}
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "provision", "--board", "rp2040",
         "--out", str(tmp_path)], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    assert r.returncode != 0
    assert "--device-id" in r.stderr and "UEDGE_DEVICE_ID" in r.stderr
