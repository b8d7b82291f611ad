import os
import subprocess
import sys

from edge_helpers import PYPATH


def test_demo_runs_non_interactively(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYPATH)
    wd = tmp_path / "demo"
    out = subprocess.run([sys.executable, "-m", "uedge_host.demo", "--duration", "6", "--workdir", str(wd)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "provisioned, connected" in out.stdout
    assert "acknowledged by the device" in out.stdout
    last = [ln for ln in out.stdout.splitlines() if ln.startswith("done:")][0]
    assert int(last.split()[4]) > 0
    assert "stopped:" in (wd / "uedge.log").read_text()  # clean SIGTERM shutdown
