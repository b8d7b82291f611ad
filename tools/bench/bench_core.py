"""Core benchmark: CPU time per processed sample under CPython and MicroPython,
and bytes allocated per report cycle under MicroPython (32 channels, each
sampled 4 times per 1 s report, mixed conversions and down-sampling modes).
CPU figures are the best of 3 runs; allocation is gc.mem_alloc() deltas with
the collector disabled, averaged over all cycles.

    .venv/bin/python tools/bench/bench_core.py [cycles]
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("benchmark failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv):
    cycles = argv[1] if len(argv) > 1 else "200"
    script = os.path.join(HERE, "mpy_core_bench.py")
    cp = run([sys.executable, script, cycles])
    print("core: CPython %s      %7.2f us/sample   (%d channels, %s report cycles)"
          % (sys.version.split()[0], cp["us_per_sample"], cp["channels"], cycles))
    print("core: CPython             %7.2f us/sample   incl. data_in encoding" % cp["us_per_sample_with_encode"])
    print("core: CPython             %7.2f us/sample   reuse_report=True" % cp["us_per_sample_reuse"])
    if not os.path.exists(MICROPYTHON):
        print("core: MicroPython unix port not found at %s, skipped" % MICROPYTHON)
        return 0
    mp = run([MICROPYTHON, script, cycles])
    print("core: MicroPython unix   %7.2f us/sample" % mp["us_per_sample"])
    print("core: MicroPython unix   %7.2f us/sample   incl. data_in encoding" % mp["us_per_sample_with_encode"])
    print("core: MicroPython unix   %7.2f us/sample   reuse_report=True" % mp["us_per_sample_reuse"])
    n = mp["channels"]
    for key, label in (
        ("alloc_per_cycle", "poll()"),
        ("alloc_per_cycle_reuse", "poll(), reuse_report=True"),
        ("alloc_per_cycle_with_encode", "poll() + encode_data_in()"),
        ("alloc_per_cycle_reuse_with_encode", "poll() + encode_data_in(), reuse_report=True"),
    ):
        b = mp[key]
        print("core: MicroPython alloc  %7.0f bytes/report cycle (%5.1f bytes/channel)  %s" % (b, b / n, label))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
