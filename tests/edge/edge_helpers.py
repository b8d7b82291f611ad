"""Launch real `uedge go` processes against a running local connector."""

import json
import os
import sqlite3
import time

from uedge_connector.testing import kill_process, read_log, start_logged, stop_process
from uedge_host.demo import go_command

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYPATH = os.pathsep.join(os.path.join(ROOT, p) for p in ("lib", "host", "tools/connector"))


def make_config(n=1, rate_ms=1000, last_edited="2024-01-01T00:00:00Z", control=True,
                multiplier=None, offset=None):
    """n Simulated counter channels (001..) plus a controllable set point 009."""
    chans = {}
    for i in range(1, n + 1):
        pc = {"sample_rate": rate_ms, "report_rate": rate_ms, "down_sample": "ACT",
              "application": "Simulated",
              "app_specific_config": {"function": "counter", "start": 0, "step": 1}}
        if multiplier is not None:
            pc["multiplier"] = multiplier
        if offset is not None:
            pc["offset"] = offset
        chans["%03d" % i] = {"display_name": "Counter %d" % i,
                             "properties": {"data_type": "NUMBER"},
                             "protocol_config": pc}
    if control:
        chans["009"] = {
            "display_name": "Set point",
            "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "control": True},
            "protocol_config": {"sample_rate": rate_ms, "report_rate": rate_ms,
                                "application": "Simulated",
                                "app_specific_config": {"function": "step", "initial": 21}},
            "control_properties": {"range": {"min": 20, "max": 40}},
        }
    return {"last_edited": last_edited, "last_editor": "device", "channels": chans}


def wait_for(pred, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class Uedge:
    def __init__(self, workdir, conn, device="dev1", config=None, scheme="mqtt", extra=()):
        self.dir = os.path.join(str(workdir), device)
        os.makedirs(self.dir, exist_ok=True)
        self.conn = conn
        self.device = device
        self.ini = os.path.join(self.dir, device + ".ini")
        self.cfg_path = os.path.join(self.dir, "config_io.json")
        self.log_path = os.path.join(self.dir, "uedge.log")
        self.status_path = os.path.join(self.dir, device + ".status.json")
        self.queue_path = os.path.join(self.dir, device + ".queue.db")
        if config is not None:
            with open(self.cfg_path, "w") as f:
                json.dump(config, f)
        port = {"mqtt": conn.mqtt_port, "mqtts": conn.mqtts_port, "http": conn.http_port,
                "https": conn.https_port}[scheme]
        self.args = go_command(device, "%s://127.0.0.1:%d" % (scheme, port), self.ini, self.cfg_path,
                               ca_path=conn.ca_path if scheme in ("mqtts", "https") else None,
                               options=["-d", "DEBUG", "--reconnect-max", "1"] + list(extra))
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = PYPATH + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = start_logged(self.args, self.log_path, env=env, cwd=self.dir)
        return self

    def stop(self, timeout=20.0):
        if self.proc is None:
            return None
        rc = stop_process(self.proc, timeout)
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None:
            kill_process(self.proc)
            self.proc = None

    def ini_text(self):
        try:
            with open(self.ini) as f:
                return f.read()
        except OSError:
            return ""

    def log_text(self):
        return read_log(self.log_path)

    def status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def queued_rows(self):
        """(ts_us, payload) rows in the queue database, oldest first."""
        db = sqlite3.connect(self.queue_path)
        try:
            return [(ts, bytes(p).decode() if not isinstance(p, str) else p)
                    for ts, p in db.execute("SELECT ts_us, payload FROM outbox ORDER BY id")]
        finally:
            db.close()

    def data_in(self):
        """[(ts_us, dict)] from the connector's data_in history, oldest first."""
        out = []
        try:
            hist = self.conn.history(self.device, "data_in", source="device")
        except Exception:  # not provisioned yet
            return out
        for ts, v in hist:
            try:
                out.append((ts, json.loads(v)))
            except ValueError:
                pass
        return out

    def wait_status(self, pred, timeout=30.0, what="status"):
        return wait_for(lambda: (lambda s: s if s and pred(s) else None)(self.status()),
                        timeout, what=what)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill() if self.proc is not None and self.proc.poll() is not None else self.stop()
