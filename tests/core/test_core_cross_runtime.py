"""The same config on the same simulated clock gives the same payloads under
CPython and the MicroPython unix port."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
EXAMPLE = os.path.join(ROOT, "host", "uedge_host", "examples", "simulated_config_io.json")

SCRIPT = r'''
import sys
sys.path.insert(0, %(lib)r)
import json
from uedge.compat import FakeClock
from uedge.config.config_io import parse_config_io
from uedge.pipeline.payload import encode_data_in
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import registry_check
import uedge.sources.simulated
with open(%(cfg)r) as f:
    cio = parse_config_io(f.read(), registry_check)
clk = FakeClock(0, 1767225600000000)
s = Scheduler(clk)
s.apply(cio)
n = 0
while clk.now_ms() < 600000:
    clk.advance(s.next_due_ms() - clk.now_ms())
    if clk.now_ms() == 90000:
        s.actuate("005", 30)
        s.actuate("004", "on")
        s.actuate("009", "half")
    r = s.poll(clk.now_ms())
    if r is not None:
        print(r.ts_us, encode_data_in(r.values, r.errors))
'''


def _run(exe, tmp_path):
    script = tmp_path / ("run_%s.py" % os.path.basename(exe))
    script.write_text(SCRIPT % {"lib": os.path.join(ROOT, "lib"), "cfg": EXAMPLE})
    p = subprocess.run([exe, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = []
    for line in p.stdout.splitlines():
        ts, payload = line.split(" ", 1)
        out.append((int(ts), json.loads(payload)))
    return out


def _same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and sorted(a) == sorted(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_payloads_match_across_runtimes(tmp_path):
    cp = _run(sys.executable, tmp_path)
    mp = _run(MICROPYTHON, tmp_path)
    assert len(cp) == len(mp) and len(cp) > 100
    for (ta, a), (tb, b) in zip(cp, mp):
        assert ta == tb
        assert _same(a, b), (ta, a, b)
    # the actuated states went out at once
    at = dict(cp)[1767225600000000 + 90000 * 1000]
    assert at["005"] == 30 and at["004"] is True and at["009"] == "half"
