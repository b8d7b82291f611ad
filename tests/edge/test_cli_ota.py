"""Gateway OTA driven by the daemon: `uedge go --ota` installs a bundle offered by
the connector, exits for the service manager to restart it, and the restarted
daemon confirms the new version once it reaches the connector."""

import configparser
import json
import os
import subprocess
import sys

from edge_helpers import PYPATH, Uedge, make_config, wait_for
from uedge_connector.testing import running_connector
from uedge_host.ota import make_gateway_bundle
from uedge_host.service import path as service_path


def _ota_state(base):
    try:
        with open(os.path.join(base, "ota.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def test_daemon_installs_bundle_and_confirms_after_restart(tmp_path):
    base = str(tmp_path / "opt")
    mpath, apath, _m = make_gateway_bundle("99.0.0", str(tmp_path / "bundle"))
    cfg = make_config(n=1, rate_ms=500, control=False)
    extra = ["--ota", "--ota-base", base, "--ota-confirm-timeout", "120"]
    with running_connector(tmp_path) as conn:
        with open(mpath, "rb") as f:
            conn.upload_content(os.path.basename(mpath), f.read(), "application/json")
        with open(apath, "rb") as f:
            conn.upload_content(os.path.basename(apath), f.read())
        u = Uedge(tmp_path, conn, "ota-gw", cfg, scheme="mqtts", extra=extra).start()
        try:
            # no restart command: after installing, the daemon stops cleanly so
            # that the service manager starts the new version
            assert u.proc.wait(60) == 0, u.log_text()
        finally:
            u.stop()
        assert "ota: installed 99.0.0" in u.log_text()
        assert os.readlink(os.path.join(base, "current")) == "versions/99.0.0"
        assert os.path.isfile(os.path.join(base, "current", "uedge", "edge.py"))
        assert os.path.isfile(os.path.join(base, "current", "uedge_host", "cli.py"))
        st = _ota_state(base)
        assert st["current"] == "99.0.0" and st["pending"] is True

        # what ExecStartPre runs before the service starts: counts the try
        env = dict(os.environ, PYTHONPATH=PYPATH)
        subprocess.run([sys.executable, "-m", "uedge_host.ota", "boot", "--base", base],
                       check=True, env=env, timeout=60)
        assert _ota_state(base)["tries"] == 1

        # the restarted daemon reaches the connector: the version is confirmed
        u = Uedge(tmp_path, conn, "ota-gw", cfg, scheme="mqtts", extra=extra).start()
        try:
            wait_for(lambda: _ota_state(base)["pending"] is False, timeout=30, what="version confirmed")
            ota_st = u.wait_status(lambda s: s.get("ota") and not s["ota"]["pending"],
                                   what="ota in the status file")["ota"]
            assert ota_st["version"] == "99.0.0"
            out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "-i", u.ini, "status"],
                                 capture_output=True, text=True, env=env, timeout=30)
            assert "ota        version 99.0.0; confirmed 99.0.0" in out.stdout, out.stdout
            assert u.proc.poll() is None  # nothing newer: it keeps running
        finally:
            assert u.stop() == 0
        assert _ota_state(base)["current"] == "99.0.0"


def test_ota_service_files_run_the_boot_step_first():
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    with open(service_path("uedge-ota.service")) as f:
        cp.read_file(f)
    svc = cp["Service"]
    assert "-m uedge_host.ota boot" in svc["ExecStartPre"] and "/opt/uedge/factory" in svc["ExecStartPre"]
    assert "/opt/uedge/current" in svc["ExecStart"] and " --ota " in svc["ExecStart"]
    assert svc["ExecStart"].endswith(" go") and svc["Restart"] == "always"
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    with open(service_path("uedge-ota.conf")) as f:
        cp.read_file(f)
    cmd = cp["program:uedge"]["command"]
    assert cmd.index("uedge_host.ota boot") < cmd.index("uedge_host.cli")
    assert " --ota " in cmd and cp["program:uedge"]["autorestart"] == "true"
