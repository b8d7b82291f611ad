"""Command line: `python -m uedge_connector [serve] ...` and admin subcommands."""

import argparse
import asyncio
import json
import logging
import os
import sys

DEFAULT_DATA = os.environ.get("UEDGE_CONNECTOR_DATA", ".uedge-connector")
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "https": 8443, "http": 8080, "admin": 8090}
COMMANDS = ("serve", "status", "devices", "get", "set", "whitelist", "reset", "delete",
            "content-upload", "content-list", "publish", "messages")


def port_arg(text):
    if text.lower() in ("off", "none", "-"):
        return None
    n = int(text)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("port must be 0..65535 or 'off'")
    return n


def build_parser():
    p = argparse.ArgumentParser(
        prog="uedge_connector",
        description="Local Murano-compatible IoT Connector (MQTT, HTTPS device API, admin API).",
    )
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("serve", help="run the connector (default command)")
    s.add_argument("--data", default=DEFAULT_DATA, help="data directory (database, PKI)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    for name, port in DEFAULT_PORTS.items():
        s.add_argument("--%s-port" % name, type=port_arg, default=port,
                       help="%s port (0 = any free port, off = disabled; default %d)"
                       % (name, port))
    s.add_argument("--public-host",
                   help="host name devices use to reach this machine (content links, server "
                   "certificate); default --host")
    s.add_argument("--admin-host", default="127.0.0.1",
                   help="address of the admin API (default loopback only)")
    s.add_argument("--auth", choices=("token", "password", "cert"), default="token")
    s.add_argument("--whitelist", default="", help="comma-separated device ids to pre-register")
    s.add_argument("--no-self-register", action="store_true",
                   help="only whitelisted identities may provision")
    s.add_argument("--admin-token", action="store_true",
                   help="require the token in DATA/admin.token (0600) on the admin API")
    s.add_argument("--cert-hostname", action="append", default=[],
                   help="extra DNS name / IP for the server certificate")
    from .hub import EXTENSIONS

    for name, (flag, text) in EXTENSIONS.items():
        s.add_argument(flag, dest="ext_" + name, action="store_true",
                       help="extension, off by default: " + text)
    s.add_argument("--all-extensions", action="store_true",
                   help="switch every extension above on (the connector's behaviour before "
                   "it was made seed-strict)")
    s.add_argument("--single-alias-long-poll", action="store_true",
                   help="refuse (400) a long poll naming several aliases, as the Murano HTTP "
                   "Device API's note has it (murano-client and uedge send several)")
    s.add_argument("--log-level", default="INFO")
    s.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)

    def client(name, help_text):
        c = sub.add_parser(name, help=help_text)
        c.add_argument("--admin", help="admin API URL (default: from DATA/connector.json)")
        c.add_argument("--data", default=DEFAULT_DATA, help="data directory of the connector")
        c.add_argument("--token-file", help="admin token file (default DATA/admin.token if any)")
        return c

    client("status", "show the running connector's settings")
    client("devices", "list devices")
    c = client("get", "read a resource (latest value, or history)")
    c.add_argument("device")
    c.add_argument("alias")
    c.add_argument("--history", type=int, metavar="N", help="show the last N points")
    c.add_argument("--follow", action="store_true",
                   help="keep printing new points as they arrive (Ctrl-C stops)")
    c = client("set", "set a resource as the ExoSense side would (pushed to the device)")
    c.add_argument("device")
    c.add_argument("alias")
    c.add_argument("value", help="the value, or @FILE to read it from a file")
    c = client("whitelist", "pre-register device ids")
    c.add_argument("ids", nargs="+")
    c = client("reset", "forget a device's credential so it can provision again")
    c.add_argument("device")
    c = client("delete", "delete a device and its data")
    c.add_argument("device")
    c = client("content-upload", "upload a content file for devices to download")
    c.add_argument("file")
    c.add_argument("--name", help="content name (default: file name)")
    c.add_argument("--mime", default="application/octet-stream")
    client("content-list", "list content")
    c = client("publish", "publish to a device's custom (non-$) topic subscription")
    c.add_argument("device")
    c.add_argument("topic")
    c.add_argument("payload")
    c = client("messages", "show custom-topic messages a device published")
    c.add_argument("device")
    return p


def make_client(args):
    from .admin import AdminClient

    url = args.admin
    info_path = os.path.join(args.data, "connector.json")
    if url is None and os.path.exists(info_path):
        with open(info_path) as f:
            url = json.load(f).get("admin_url")
    url = url or "http://127.0.0.1:%d" % DEFAULT_PORTS["admin"]
    token = None
    token_file = args.token_file or os.path.join(args.data, "admin.token")
    if os.path.exists(token_file):
        with open(token_file) as f:
            token = f.read().strip()
    return AdminClient(url, token)


def run_client(args):
    from .admin import AdminError

    c = make_client(args)
    cmd = args.command
    try:
        if cmd == "status":
            out = c.status()
        elif cmd == "devices":
            out = c.devices()
        elif cmd == "get" and args.follow:
            return follow(c, args.device, args.alias, args.history or 1)
        elif cmd == "get":
            out = c.resource(args.device, args.alias, limit=args.history or 1)
            if args.history is None:
                latest = out["latest"]
                if latest is None:
                    print("%s/%s has no value" % (args.device, args.alias), file=sys.stderr)
                    return 1
                print(latest["value"])
                return 0
            for ts, value, source in out["history"]:
                print("%d\t%s\t%s" % (ts, source, value))
            return 0
        elif cmd == "set":
            value = args.value
            if value.startswith("@"):
                with open(value[1:], encoding="utf-8") as f:
                    value = f.read()
            out = c.set_resource(args.device, args.alias, value)
        elif cmd == "whitelist":
            out = c.whitelist(args.ids)
        elif cmd == "reset":
            out = c.reset(args.device)
        elif cmd == "delete":
            out = c.delete(args.device)
        elif cmd == "content-upload":
            with open(args.file, "rb") as f:
                data = f.read()
            out = c.upload_content(args.name or os.path.basename(args.file), data, args.mime)
        elif cmd == "content-list":
            out = c.content_list()
        elif cmd == "publish":
            out = c.publish(args.device, args.topic, args.payload)
        elif cmd == "messages":
            out = c.messages(args.device)
        else:
            raise AssertionError(cmd)
    except AdminError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("error: cannot reach the connector admin API at %s: %s" % (c.url, e),
              file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    return 0


def follow(client, device, alias, first, interval=1.0):
    import time

    since = None
    limit = first
    try:
        while True:
            out = client.resource(device, alias, limit=limit, since=since)
            for ts, value, source in out["history"]:
                print("%d\t%s\t%s" % (ts, source, value), flush=True)
                since = ts + 1
            limit = 1000
            if since is None:
                since = 0
            time.sleep(interval)
    except KeyboardInterrupt:
        return 0


def run_serve(args):
    from .server import Connector, serve

    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ports = {name: getattr(args, "%s_port" % name) for name in DEFAULT_PORTS}
    whitelist = [w.strip() for w in args.whitelist.split(",") if w.strip()]
    hostnames = ("localhost", "127.0.0.1", "::1") + tuple(args.cert_hostname)
    for name in (args.host, args.public_host):
        if name and name not in hostnames and name not in ("0.0.0.0", "::"):
            hostnames += (name,)
    from .hub import EXTENSIONS

    extensions = [n for n in EXTENSIONS if args.all_extensions or getattr(args, "ext_" + n)]
    connector = Connector(args.data, host=args.host, ports=ports, auth=args.auth,
                          whitelist=whitelist, self_register=not args.no_self_register,
                          use_admin_token=args.admin_token, hostnames=hostnames,
                          admin_host=args.admin_host, public_host=args.public_host,
                          extensions=extensions,
                          single_alias_poll=args.single_alias_long_poll)
    try:
        asyncio.run(serve(connector, parent_pid=args.parent_pid))
    except KeyboardInterrupt:
        pass
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS + ("-h", "--help"):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    return run_client(args)
