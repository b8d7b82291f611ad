"""Start a real mosquitto broker on free loopback ports for tests.

    with running_mosquitto(tmp_path, tls=True, users={"dev": "secret..."}) as broker:
        broker.port, broker.tls_port, broker.ca_path
        broker.kill(); broker.start()      # restart on the same ports

Plain listener always; TLS listener (server certificate for localhost/127.0.0.1
from the connector's local CA) when tls=True; a password file with
allow_anonymous false when users is given. Optional client-certificate listener
(require_certificate) with cert_port when client_certs=True.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time

from peers.ports import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def make_pki(directory):
    """CA + server certificate via the connector's PKI helper."""
    path = os.path.join(ROOT, "tools", "connector")
    if path not in sys.path:
        sys.path.insert(0, path)
    from uedge_connector import pki

    os.makedirs(directory, exist_ok=True)
    return pki.ensure_pki(directory, hostnames=("localhost", "127.0.0.1"))


def make_client_cert(directory, pki_info, common_name):
    from uedge_connector import pki

    return pki.make_client_cert(directory, pki_info, common_name)


class Mosquitto:
    def __init__(self, workdir, tls=False, users=None, client_certs=False):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if (tls or client_certs) else None
        self.cert_port = free_port() if client_certs else None
        self.pki = make_pki(os.path.join(self.workdir, "pki")) if (tls or client_certs) else None
        self.ca_path = self.pki["ca_cert"] if self.pki else None
        self.users = users
        self.proc = None
        self.log_path = os.path.join(self.workdir, "mosquitto.log")
        self.conf_path = os.path.join(self.workdir, "mosquitto.conf")
        self._write_conf()

    def _write_conf(self):
        lines = ["per_listener_settings false", "persistence false"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # as root mosquitto drops to user "mosquitto", which cannot read the keys
            import pwd

            lines.append("user " + pwd.getpwuid(os.geteuid()).pw_name)
        if self.users:
            pw = os.path.join(self.workdir, "passwd")
            with open(pw, "w") as f:
                for u, p in self.users.items():
                    f.write("%s:%s\n" % (u, p))
            subprocess.run([MOSQUITTO_PASSWD, "-U", pw], check=True, capture_output=True)
            os.chmod(pw, 0o600)
            lines += ["allow_anonymous false", "password_file " + pw]
        else:
            lines.append("allow_anonymous true")
        lines += ["listener %d 127.0.0.1" % self.port]
        if self.tls_port:
            lines += [
                "listener %d 127.0.0.1" % self.tls_port,
                "cafile " + self.pki["ca_cert"],
                "certfile " + self.pki["server_cert"],
                "keyfile " + self.pki["server_key"],
            ]
        if self.cert_port:
            lines += [
                "listener %d 127.0.0.1" % self.cert_port,
                "cafile " + self.pki["ca_cert"],
                "certfile " + self.pki["server_cert"],
                "keyfile " + self.pki["server_key"],
                "require_certificate true",
                "use_identity_as_username true",
            ]
        lines += ["log_dest file " + self.log_path, "log_type all"]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", self.conf_path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        ports = [p for p in (self.port, self.tls_port, self.cert_port) if p]
        deadline = time.time() + timeout
        while ports:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError("mosquitto exited (%s): %s" % (self.proc.returncode, err))
            s = socket.socket()
            try:
                s.connect((self.host, ports[0]))
                ports.pop(0)
            except OSError:
                if time.time() > deadline:
                    self.kill()
                    raise RuntimeError("mosquitto did not listen on port %d" % ports[0]) from None
                time.sleep(0.02)
            finally:
                s.close()
        return self

    def kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
        self.proc = None

    stop = kill

    def restart(self):
        self.kill()
        return self.start()

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""


@contextlib.contextmanager
def running_mosquitto(workdir, tls=False, users=None, client_certs=False):
    broker = Mosquitto(workdir, tls=tls, users=users, client_certs=client_certs)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
