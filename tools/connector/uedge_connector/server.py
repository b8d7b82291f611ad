"""Start every listener of the local connector in one asyncio loop."""

import asyncio
import json
import logging
import os
import secrets
import signal
import ssl

from . import pki
from .admin import AdminAPI
from .device_http import DeviceAPI
from .http_server import HTTPServer
from .hub import Hub
from .mqtt_server import MQTTServer
from .store import Store, now_us

LOG = logging.getLogger("uedge_connector")

LISTENERS = ("mqtt", "mqtts", "https", "http", "admin")


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def admin_token(data_dir):
    path = os.path.join(data_dir, "admin.token")
    if not os.path.exists(path):
        write_private(path, secrets.token_urlsafe(32))
    with open(path) as f:
        return f.read().strip()


def tls_context(paths, client_certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(paths["server_cert"], paths["server_key"])
    if client_certs:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(paths["ca_cert"])
    return ctx


class Connector:
    """ports: dict listener -> port (0 = any free port, None = disabled)."""

    def __init__(self, data_dir, host="127.0.0.1", ports=None, auth="token",
                 whitelist=(), self_register=True, use_admin_token=False,
                 hostnames=pki.DEFAULT_HOSTNAMES, admin_host="127.0.0.1", public_host=None,
                 extensions=(), single_alias_poll=False):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.host = host
        self.admin_host = admin_host
        self.ports = dict(ports or {})
        self.auth = auth
        self.pki = pki.ensure_pki(os.path.join(self.data_dir, "pki"), tuple(hostnames))
        self.store = Store(os.path.join(self.data_dir, "connector.sqlite3"))
        for device_id in whitelist:
            self.store.whitelist(device_id)
        self.hub = Hub(self.store, auth=auth, self_register=self_register, host=host,
                       extensions=extensions, single_alias_poll=single_alias_poll)
        self.hub.public_host = public_host
        self.token = admin_token(self.data_dir) if use_admin_token else None
        self.servers = []
        self.info = {}

    async def start(self):
        hub = self.hub
        tls = tls_context(self.pki, self.auth == "cert")
        mqtt = MQTTServer(hub)
        device_api = DeviceAPI(hub)
        starters = {
            "mqtt": lambda p: mqtt.start(self.host, p),
            "mqtts": lambda p: mqtt.start(self.host, p, tls),
            "https": lambda p: HTTPServer(device_api, "https").start(self.host, p, tls),
            "http": lambda p: HTTPServer(device_api, "http").start(self.host, p),
        }
        for name in ("mqtt", "mqtts", "https", "http"):
            port = self.ports.get(name)
            if port is None:
                continue
            server = await starters[name](port)
            self.servers.append(server)
            hub.ports[name] = server.sockets[0].getsockname()[1]
        self.info = {
            "pid": os.getpid(),
            "host": self.host,
            "auth": self.auth,
            "ca_path": self.pki["ca_cert"],
            "data_dir": self.data_dir,
            "database": self.store.path,
            "started_us": now_us(),
            "extensions": sorted(hub.extensions),  # [] = seed-strict
            "single_alias_long_poll": hub.single_alias_poll,
        }
        admin_port = self.ports.get("admin")
        if admin_port is not None:
            api = AdminAPI(hub, self.token, self.info, self.admin_host)
            server = await HTTPServer(api, "admin").start(self.admin_host, admin_port)
            self.servers.append(server)
            hub.ports["admin"] = server.sockets[0].getsockname()[1]
        self.info["ports"] = dict(hub.ports)
        if "admin" in hub.ports:
            self.info["admin_url"] = "http://%s:%d" % (self.admin_host, hub.ports["admin"])
        self.info["admin_token_file"] = (
            os.path.join(self.data_dir, "admin.token") if self.token else None
        )
        tmp = os.path.join(self.data_dir, "connector.json.tmp")
        with open(tmp, "w") as f:
            json.dump(self.info, f, indent=1)
        os.replace(tmp, os.path.join(self.data_dir, "connector.json"))
        return self.info

    async def close(self):
        self.hub.closing = True  # connections cut by a shutdown do not fire wills
        for sessions in list(self.hub.sessions.values()):
            for session in list(sessions):
                session.close()
        for server in self.servers:
            server.close()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
        self.store.close()


def describe(info):
    ports = info["ports"]
    ext = info.get("extensions") or []
    lines = ["uedge local IoT connector (auth: %s, %s)"
             % (info["auth"], "extensions: " + ", ".join(ext) if ext else "seed-strict"),
             "  data:   %s" % info["data_dir"],
             "  CA:     %s" % info["ca_path"]]
    urls = {
        "mqtt": "mqtt://%s:%s", "mqtts": "mqtts://%s:%s", "https": "https://%s:%s",
        "http": "http://%s:%s",
    }
    for name in LISTENERS[:-1]:
        if name in ports:
            lines.append("  %-6s  %s" % (name, urls[name] % (info["host"], ports[name])))
    if "admin_url" in info:
        lines.append("  admin   %s  (admin API)" % info["admin_url"])
    return "\n".join(lines)


async def watch_parent(parent_pid, stop):
    """Stop when the process that started us is gone (tests killed hard)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            LOG.info("parent process %d is gone", parent_pid)
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve(connector, ready=None, parent_pid=None):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if parent_pid:
        loop.create_task(watch_parent(parent_pid, stop))
    info = await connector.start()
    print(describe(info), flush=True)
    if ready is not None:
        ready(info)
    try:
        await stop.wait()
    finally:
        LOG.info("stopping")
        await connector.close()
