"""The dry-run command: simulated time prints every payload at once."""

import io
import json
import os
import subprocess
import sys

from uedge_host import dryrun

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "host", "uedge_host", "examples", "simulated_config_io.json")


def _run(argv):
    out = io.StringIO()
    rc = dryrun.run(dryrun.parse_args(argv), out=out)
    return rc, out.getvalue().splitlines()


def test_example_config_over_simulated_minute():
    rc, lines = _run(["--config", EXAMPLE, "--duration", "60", "--simulated-time",
                      "--start-epoch-us", "1767225600000000"])
    assert rc == 0
    ts = [int(line.split(" ", 2)[0]) for line in lines]
    payloads = [json.loads(line.split(" ", 2)[2]) for line in lines]
    assert ts[0] == 1767225600000000
    assert lines[0].split(" ")[1] == "2026-01-01T00:00:00.000Z"
    assert ts == sorted(ts) and all((t - ts[0]) % 1000000 == 0 for t in ts)
    first = payloads[0]
    # every channel with a source reports at start; the virtual valve has no state yet
    assert sorted(first) == ["001", "002", "003", "005", "006", "007", "008", "009", "010"]
    assert first["005"] == 22 and first["009"] == "close" and first["003"] is True
    # 002 reports every 5 s: 12 times in a minute, always inside 0..10 bar
    p2 = [p["002"] for p in payloads if "002" in p]
    assert len(p2) == 12 and all(0 <= v <= 10 for v in p2)
    assert all("__error" not in p for p in payloads)


def test_batch_output():
    rc, lines = _run(["--config", EXAMPLE, "--duration", "10", "--simulated-time", "--batch",
                      "--start-epoch-us", "1767225600000000"])
    assert rc == 0 and len(lines) == 1
    body = json.loads(lines[0])
    assert body[0]["timestamp"] == 1767225600000000
    assert json.loads(body[1]["values"]["data_in"]) == {"002": json.loads(body[1]["values"]["data_in"])["002"]}


def test_config_error_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"last_edited": "x", "channels": {"1": {"display_name": "a", "properties": {"data_type": "X"}, "protocol_config": {"down_sample": "MEAN"}}}}')
    rc, lines = _run(["--config", str(bad), "--simulated-time"])
    assert rc == 2 and lines == []
    assert 'config error: channel 1: protocol_config.down_sample must be one of MIN, MAX, AVG, ACT, got "MEAN"' in capsys.readouterr().err


def test_module_entry_point():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "lib"), os.path.join(ROOT, "host")])
    p = subprocess.run([sys.executable, "-m", "uedge_host.dryrun", "--config", EXAMPLE, "--duration", "6",
                        "--simulated-time", "--dry-run"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == 2  # t=0 and t=5 s (the run covers [0, duration))
    assert "# 2 payloads" in p.stderr
