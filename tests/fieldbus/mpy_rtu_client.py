# Runs the portable Modbus_RTU source (uedge.sources.modbus_rtu) under the
# MicroPython unix port against a real serial peer, for the fieldbus tests.
#   micropython mpy_rtu_client.py job.json  -> one JSON line on stdout
# job: {"port", "app_config", "config_io", "writes": [[id, value]], "rounds", "pause_ms"}
# Floats are printed as the hex of their IEEE-754 double so the test can
# compare bit for bit.
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../../lib")

import binascii  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402

from uedge.config.config_io import parse_config_io  # noqa: E402
from uedge.sources.modbus_rtu import ModbusRTUSource  # noqa: E402


def enc(v):
    if isinstance(v, float):
        return {"f64": str(binascii.hexlify(struct.pack(">d", v)), "ascii")}
    return v


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    for p in job.get("sys_path", []):
        sys.path.insert(0, p)
    cio = parse_config_io(job["config_io"])
    chans = [cio.channels[k] for k in cio.channels]
    src = ModbusRTUSource("Modbus_RTU", job["port"], job.get("app_config", {}))
    src.open()
    out = {"writes": {}, "rounds": []}
    for cid, value in job.get("writes", []):
        try:
            src.write(cio.channels[cid], value)
            out["writes"][cid] = None
        except Exception as e:
            out["writes"][cid] = str(e)
    for _ in range(job.get("rounds", 1)):
        values = {}
        errors = {}
        src.read_many(chans, values, errors)
        out["rounds"].append({"values": {k: enc(v) for k, v in values.items()}, "errors": errors})
        if job.get("pause_ms"):
            time.sleep_ms(job["pause_ms"])
    out["requests"] = src.requests
    src.close()
    print(json.dumps(out))


main()
