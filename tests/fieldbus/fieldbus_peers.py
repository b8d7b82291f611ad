"""Real peers for the fieldbus tests: pymodbus servers (TCP, RTU on a socat pty)
and the MicroPython runner of the portable RTU source."""

import binascii
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

from peers.ports import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
SERVER = os.path.join(HERE, "modbus_server.py")


class Server:
    """A pymodbus server subprocess; stop()/start() simulate a device going away."""

    def __init__(self, data, tcp_port=None, rtu_path=None):
        self.data = data
        self.tcp_port = tcp_port
        self.rtu_path = rtu_path
        fd, self.data_path = tempfile.mkstemp(suffix=".json", prefix="uedge-mb-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        self.proc = None

    def start(self):
        args = [sys.executable, SERVER, "--data", self.data_path]
        if self.tcp_port:
            args += ["--tcp", str(self.tcp_port)]
        else:
            args += ["--rtu", self.rtu_path]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout.readline().strip() == b"READY"
        if self.tcp_port:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.tcp_port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise RuntimeError("modbus TCP server did not start") from None
                    time.sleep(0.02)
        else:
            self._probe()
        return self

    def _probe(self, timeout=15.0):
        # The serial server opens its port after READY: ask until it answers
        # (any answer, even an exception, means it is serving).
        from pymodbus.client import ModbusSerialClient

        peer = self.rtu_path[:-1] + "a"
        unit = int(next(iter(self.data)))
        deadline = time.monotonic() + timeout
        while True:
            c = ModbusSerialClient(peer, baudrate=115200, timeout=0.2, retries=0)
            try:
                if c.connect():
                    try:
                        c.read_holding_registers(0, count=1, device_id=unit)
                        return
                    except Exception:
                        pass
            finally:
                c.close()
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("modbus RTU server did not answer")
            time.sleep(0.05)

    def pause(self):
        self.proc.send_signal(19)  # SIGSTOP: the device stops answering

    def resume(self):
        self.proc.send_signal(18)  # SIGCONT

    def stop(self):
        p = self.proc
        self.proc = None
        if p is not None:
            p.kill()
            p.wait(5)
            p.stdout.close()

    def close(self):
        self.stop()
        os.unlink(self.data_path)


@contextlib.contextmanager
def tcp_server(data):
    s = Server(data, tcp_port=free_port()).start()
    try:
        yield s
    finally:
        s.close()


@contextlib.contextmanager
def rtu_server(data, path):
    s = Server(data, rtu_path=path).start()
    try:
        yield s
    finally:
        s.close()


def config_io(channels, application, interface):
    """A config_io object: channels = {id: app_specific_config}."""
    out = {}
    for cid, asc in channels.items():
        out[cid] = {
            "display_name": "ch " + cid,
            "properties": {"data_type": "NUMBER", "control": True},
            "protocol_config": {"application": application, "interface": interface,
                                "sample_rate": 1000, "report_rate": 1000,
                                "app_specific_config": asc},
        }
    return {"last_edited": "2026-01-01T00:00:00+00:00", "channels": out}


def decode_mpy_value(v):
    if isinstance(v, dict) and "f64" in v:
        return struct.unpack(">d", binascii.unhexlify(v["f64"]))[0]
    return v


def run_mpy(job, timeout=60, env=None):
    """Run the portable source under MicroPython; returns its JSON result."""
    fd, path = tempfile.mkstemp(suffix=".json", prefix="uedge-mpy-")
    with os.fdopen(fd, "w") as f:
        json.dump(job, f)
    try:
        p = subprocess.run([MICROPYTHON, os.path.join(HERE, "mpy_rtu_client.py"), path],
                           capture_output=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
    finally:
        os.unlink(path)
    assert p.returncode == 0, p.stderr.decode() + p.stdout.decode()
    out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    for r in out["rounds"]:
        r["values"] = {k: decode_mpy_value(v) for k, v in r["values"].items()}
    return out
