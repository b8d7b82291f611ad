"""Fieldbus benchmark: the portable Modbus RTU master under MicroPython over a
socat pty at 115200 baud, a pymodbus RTU server at the far end.

Prints reads/s and registers/s (1 and 125 registers per request) next to the
line-rate limit of a real 115200 8N1 line, and what coalescing saves when 50
channels of one device are due together. A pty is not paced at the baud
rate, so the measured figures show the master's own cost (CPU, inter-frame
silence it keeps) rather than the wire's.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fieldbus"))

from fieldbus_peers import rtu_server  # noqa: E402
from peers.socat import socat_pair  # noqa: E402
from uedge.modbus import codec, plan  # noqa: E402
from uedge.modbus.rtu import char_time_us  # noqa: E402

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
BAUD = 115200
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))


def line_limit(baud, n_regs):
    """Transactions/s a real 8N1 line allows: request + response + two 3.5-char gaps."""
    ch = char_time_us(baud)  # 10 bits a character
    t35 = 1750 if baud > 19200 else 35 * ch / 10
    t = (8 + 5 + 2 * n_regs) * ch + 2 * t35
    return 1e6 / t


class Ch:
    def __init__(self, cid):
        self.id = cid


def main():
    # coalescing on paper: 50 float32 channels back to back on one device
    items = [(Ch("c%02d" % i), codec.parse({"register_range": "HOLDING_REGISTER",
                                             "register": 1 + 2 * i, "register_count": 2,
                                             "evaluation_mode": "floating point: ieee754"}))
             for i in range(50)]
    n_plan = len(plan.build(items))

    data = {"1": {"hr": [(i * 7919) & 0xFFFF for i in range(200)]}}
    with socat_pair() as pair, rtu_server(data, pair.b):
        p = subprocess.run([MICROPYTHON, os.path.join(ROOT, "tools", "bench", "mpy_rtu_bench.py"),
                            pair.a, str(BAUD), str(SECONDS)], capture_output=True, timeout=120)
    if p.returncode != 0:
        print(p.stderr.decode())
        return 1
    r = json.loads(p.stdout.decode().strip().splitlines()[-1])
    lim1 = line_limit(BAUD, 1)
    lim125 = line_limit(BAUD, 125)
    print("fieldbus: Modbus RTU, portable master on MicroPython unix port, socat pty, "
          "pymodbus RTU server, %d baud 8N1 (t3.5 = 1.75 ms, master waits %d ms)" % (BAUD, r["gap_ms"] + 1))
    print("fieldbus.rtu.reads_per_s[1 register]: %.0f  (line-rate limit at %d: %.0f)" % (r["reads_1"], BAUD, lim1))
    print("fieldbus.rtu.registers_per_s[1 register/read]: %.0f  (limit %.0f)" % (r["reads_1"], lim1))
    print("fieldbus.rtu.reads_per_s[125 registers]: %.1f  (line-rate limit at %d: %.1f)"
          % (r["reads_125"], BAUD, lim125))
    print("fieldbus.rtu.registers_per_s[125 registers/read]: %.0f  (limit %.0f)"
          % (r["reads_125"] * 125, lim125 * 125))
    print("fieldbus.coalescing.requests[50 float32 channels, plan]: %d  (uncoalesced: 50)" % n_plan)
    print("fieldbus.coalescing.requests[50 channels, measured]: %d in %.1f ms  (one by one: %d in %.1f ms)"
          % (r["coalesced_requests"], r["coalesced_ms"], r["single_requests"], r["single_ms"]))
    print("fieldbus.rtu.heap_bytes_per_read_many[50 channels, coalesced]: %d" % r["alloc_per_read_many"])
    print("fieldbus.coalescing.line_time[50 channels at %d]: %.1f ms coalesced vs %.1f ms one by one"
          % (BAUD, 1000.0 / line_limit(BAUD, 99), 50 * 1000.0 / lim1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
