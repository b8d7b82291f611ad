"""A pymodbus server preloaded from a JSON file, run as a subprocess by the tests.

    python modbus_server.py --data data.json (--tcp PORT | --rtu /dev/pts/N --baud 115200)

data.json: {"UNIT": {"co": [0/1 ...], "di": [...], "hr": [0..65535 ...], "ir": [...]}}
Each list starts at protocol address 0; reading past its end answers
ILLEGAL DATA ADDRESS. Units not listed do not answer. Prints "READY" when serving.
"""

import argparse
import json
import logging
import os
import sys

from pymodbus.server import StartSerialServer, StartTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


def _block(values, bits):
    if not values:
        values = [0]
    if bits:
        return [SimData(0, values=[bool(v) for v in values], datatype=DataType.BITS)]
    return [SimData(0, values=list(values), datatype=DataType.REGISTERS)]


def devices(data):
    out = []
    for unit, tables in data.items():
        out.append(SimDevice(int(unit), simdata=(
            _block(tables.get("co"), True),
            _block(tables.get("di"), True),
            _block(tables.get("hr"), False),
            _block(tables.get("ir"), False),
        )))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--rtu")
    ap.add_argument("--baud", type=int, default=115200)
    a = ap.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.ERROR)
    with open(a.data) as f:
        devs = devices(json.load(f))
    print("READY", flush=True)
    # nobody reads our stdout after READY: never let a full pipe block the server
    sys.stdout = open(os.devnull, "w")
    if a.tcp:
        StartTcpServer(devs, address=("127.0.0.1", a.tcp))
    else:
        StartSerialServer(devs, port=a.rtu, baudrate=a.baud, timeout=0.005)


if __name__ == "__main__":
    main()
