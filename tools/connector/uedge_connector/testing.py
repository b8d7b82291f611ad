"""Run the local connector as a subprocess from tests, demos and benchmarks.

Usage::

    from uedge_connector.testing import running_connector

    with running_connector(tmp_path, auth="token") as conn:
        # device side: conn.host, conn.mqtt_port (plain), conn.mqtts_port (TLS),
        # conn.https_port, conn.http_port (plain HTTP device API), conn.ca_path
        # (PEM of the local CA that signed the server certificate for
        # "localhost" and "127.0.0.1"), conn.pki (dict of PEM paths, for
        # pki.make_client_cert), conn.admin_port / conn.admin_url.
        conn.set_resource("dev1", "config_io", '{"channels": {}}')   # ExoSense side
        conn.get_resource("dev1", "data_in")      # latest value (str) or None
        conn.history("dev1", "data_in")           # [(ts_us, value_str), ...] oldest first
        conn.devices()                            # [{"id", "auth", "provisioned", ...}]
        conn.upload_content("fw.bin", b"...", "application/octet-stream")
        conn.content_list()                       # [{"name", "length", "mime", "url"}]
        conn.whitelist(["dev2"]); conn.reset("dev1")
        conn.stop(); conn.start()                 # restart: same ports, same database
        conn.kill(); conn.start()                 # SIGKILL (crash), then start again

running_connector(workdir, auth="token"|"password"|"cert", whitelist=None (list of
ids), self_register=True, admin_token=False, extra_args=()) starts
`python -m uedge_connector serve` with its data under workdir/connector-data on
free loopback ports, waits until every listener accepts connections, and stops
the process (SIGTERM, then SIGKILL) when the block ends. The process output goes
to workdir/connector.log (conn.log_path; conn.log_text() reads it).

The same process handling serves other programs run from tests, demos and
benchmarks: start_logged(cmd, log_path, env, cwd) starts one with its output
appended to a log file, stop_process(proc, timeout) stops it (SIGTERM, then
SIGKILL), kill_process(proc) crashes it, read_log(path) reads its log.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

from .admin import AdminClient

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LISTENERS = ("mqtt", "mqtts", "https", "http", "admin")


def start_logged(cmd, log_path, env=None, cwd=None, **popen_kwargs):
    """Start cmd with stdin from /dev/null and its output (stdout and stderr)
    appended to log_path -> the Popen."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=cwd, **popen_kwargs)
    finally:
        log.close()


def stop_process(proc, timeout=10.0):
    """Graceful stop (SIGTERM), SIGKILL if it does not exit within timeout
    seconds -> its return code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def kill_process(proc):
    """SIGKILL (a crash) unless it has exited already; reaps it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def read_log(path):
    """The text of a log file ("" when there is none yet)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _listener_port(name):
    return property(lambda self: self.ports[name], doc="port of the %s listener" % name)


class ConnectorProcess:
    def __init__(self, workdir, auth="token", whitelist=None, self_register=True,
                 admin_token=False, extra_args=(), host="127.0.0.1", start_timeout=30.0):
        self.workdir = os.path.abspath(str(workdir))
        self.data_dir = os.path.join(self.workdir, "connector-data")
        self.log_path = os.path.join(self.workdir, "connector.log")
        self.auth = auth
        self.whitelist_ids = list(whitelist or ())
        self.self_register = self_register
        self.admin_token = admin_token
        self.extra_args = list(extra_args)
        self.host = host
        self.start_timeout = start_timeout
        self.ports = {name: 0 for name in LISTENERS}
        self.proc = None
        self.info = None
        self.admin = None
        os.makedirs(self.data_dir, exist_ok=True)

    # -- addresses ------------------------------------------------------------------
    mqtt_port = _listener_port("mqtt")
    mqtts_port = _listener_port("mqtts")
    https_port = _listener_port("https")
    http_port = _listener_port("http")
    admin_port = _listener_port("admin")

    @property
    def admin_url(self):
        return "http://127.0.0.1:%d" % self.admin_port

    @property
    def ca_path(self):
        return os.path.join(self.data_dir, "pki", "ca.pem")

    @property
    def pki(self):
        d = os.path.join(self.data_dir, "pki")
        return {"ca_cert": os.path.join(d, "ca.pem"), "ca_key": os.path.join(d, "ca.key"),
                "server_cert": os.path.join(d, "server.pem"),
                "server_key": os.path.join(d, "server.key")}

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- process control ------------------------------------------------------------
    def command(self):
        cmd = [sys.executable, "-m", "uedge_connector", "serve", "--data", self.data_dir,
               "--host", self.host, "--auth", self.auth]
        for name in LISTENERS:
            cmd += ["--%s-port" % name, str(self.ports[name])]
        if self.whitelist_ids:
            cmd += ["--whitelist", ",".join(self.whitelist_ids)]
        if not self.self_register:
            cmd.append("--no-self-register")
        if self.admin_token:
            cmd.append("--admin-token")
        cmd += ["--parent-pid", str(os.getpid())]  # exits if this process dies
        return cmd + self.extra_args

    def start(self):
        if self.running:
            raise RuntimeError("connector already running")
        info_path = os.path.join(self.data_dir, "connector.json")
        if os.path.exists(info_path):
            os.remove(info_path)
        env = dict(os.environ)
        env["PYTHONPATH"] = PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = start_logged(self.command(), self.log_path, env=env, cwd=self.workdir)
        deadline = time.monotonic() + self.start_timeout
        info = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("connector exited with %s:\n%s"
                                   % (self.proc.returncode, self.log_text()[-4000:]))
            if os.path.exists(info_path):
                try:
                    with open(info_path) as f:
                        info = json.load(f)
                except ValueError:
                    info = None
                if info and info.get("pid") == self.proc.pid:
                    break
            time.sleep(0.05)
        else:
            self.kill()
            raise RuntimeError("connector did not start in time:\n%s" % self.log_text()[-4000:])
        self.info = info
        self.ports = {name: info["ports"][name] for name in LISTENERS}
        for name in LISTENERS:
            self._wait_accepting(self.ports[name], deadline,
                                 "127.0.0.1" if name == "admin" else None)
        token = None
        if self.admin_token:
            with open(os.path.join(self.data_dir, "admin.token")) as f:
                token = f.read().strip()
        self.admin = AdminClient(self.admin_url, token)
        return self

    def _wait_accepting(self, port, deadline, host=None):
        host = host or ("127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host)
        while True:
            try:
                with socket.create_connection((host, port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("connector port %d not accepting" % port) from None
                time.sleep(0.05)

    def stop(self, timeout=10.0):
        """Graceful stop (SIGTERM), SIGKILL if it does not exit in time."""
        if self.proc is None:
            return
        stop_process(self.proc, timeout)
        self.proc = None

    def kill(self):
        """Crash the connector (SIGKILL)."""
        if self.proc is None:
            return
        kill_process(self.proc)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        return read_log(self.log_path)

    # -- admin API shortcuts ----------------------------------------------------------------
    def devices(self):
        return self.admin.devices()

    def whitelist(self, ids):
        return self.admin.whitelist(ids)

    def reset(self, device):
        return self.admin.reset(device)

    def set_resource(self, device, alias, value_str):
        """Set a resource as the ExoSense side would; returns its timestamp (us)."""
        return self.admin.set_resource(device, alias, value_str)["ts_us"]

    def get_resource(self, device, alias):
        """Latest value (str) or None."""
        latest = self.admin.resource(device, alias, limit=1)["latest"]
        return None if latest is None else latest["value"]

    def history(self, device, alias, limit=None, since=None, source=None):
        """[(ts_us, value_str)] oldest first; source "device"/"cloud" filters."""
        rows = self.admin.resource(device, alias, limit=limit, since=since)["history"]
        return [(ts, v) for ts, v, s in rows if source is None or s == source]

    def resources(self, device):
        return self.admin.resources(device)

    def upload_content(self, name, data, mime="application/octet-stream"):
        return self.admin.upload_content(name, data, mime)

    def content_list(self):
        return self.admin.content_list()

    def publish(self, device, topic, payload):
        return self.admin.publish(device, topic, payload)

    def messages(self, device):
        return self.admin.messages(device)


@contextlib.contextmanager
def running_connector(workdir, auth="token", whitelist=None, self_register=True,
                      admin_token=False, extra_args=(), **kwargs):
    conn = ConnectorProcess(workdir, auth=auth, whitelist=whitelist,
                            self_register=self_register, admin_token=admin_token,
                            extra_args=extra_args, **kwargs)
    conn.start()
    try:
        yield conn
    finally:
        conn.stop()
