"""`make demo`: a local IoT Connector and `uedge go` with simulated channels.

Both run on loopback. The device provisions itself over MQTT/TLS, reports the
simulated channels, and this terminal shows what ARRIVES AT THE CONNECTOR
(read from the connector's dashboard API): one screen, refreshed in place every
second, until Ctrl-C (or --duration N seconds). It also prints the URL of the
connector's dashboard (a one-time login link; the admin token is required). A
control request is sent after a few seconds to show the data_out round trip.
Everything is stopped and removed at the end.

Without a terminal (output piped, or --plain) it prints one status line a
second instead of the table.

    python -m uedge_host.demo [--duration N] [--workdir DIR] [--keep] [--http] [--plain]
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse

DEVICE = "demo-0001"

_FALLBACK_CONFIG = {
    "last_edited": "2026-01-01T00:00:00+00:00",
    "last_editor": "device",
    "channels": {
        "001": {"display_name": "Tank Temperature",
                "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "precision": 2},
                "protocol_config": {"sample_rate": 500, "report_rate": 2000, "down_sample": "AVG",
                                    "application": "Simulated",
                                    "app_specific_config": {"function": "sine", "period_ms": 60000,
                                                            "amplitude": 4, "offset": 21}}},
        "005": {"display_name": "Thermostat Set Point",
                "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "control": True},
                "protocol_config": {"report_rate": 30000, "application": "Simulated",
                                    "app_specific_config": {"function": "step", "initial": 22}},
                "control_properties": {"range": {"min": 10, "max": 30}}},
    },
}


def go_command(device, endpoint, ini, config_path, ca_path=None, options=()):
    """argv that runs `uedge go` with this Python for device at endpoint
    (e.g. "mqtts://127.0.0.1:8883"); ca_path: the CA to trust (-E); options:
    further command-line options before `go`."""
    cmd = [sys.executable, "-m", "uedge_host.cli", "-s", device, "-H", endpoint,
           "-i", ini, "-c", config_path]
    if ca_path:
        cmd += ["-E", ca_path]
    return cmd + list(options) + ["go"]


def _example_config():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "examples", "simulated_config_io.json")
    try:
        from uedge.config.json_reader import loads

        with open(path) as f:
            return loads(f.read())
    except Exception:
        return _FALLBACK_CONFIG


def _quicken(cfg, cap_ms=2000):
    """Demo pace: report at least every cap_ms so the table moves."""
    for ch in cfg.get("channels", {}).values():
        pc = ch.get("protocol_config")
        if not isinstance(pc, dict):
            continue
        rr = pc.get("report_rate")
        if isinstance(rr, int) and rr > cap_ms:
            pc["report_rate"] = cap_ms
            sr = pc.get("sample_rate")
            if isinstance(sr, int) and sr > cap_ms:
                pc["sample_rate"] = cap_ms
    return cfg


def _control_target(cfg):
    """A numeric control channel and a value inside its range, if any."""
    for cid, ch in cfg.get("channels", {}).items():
        props = ch.get("properties", {})
        if not props.get("control") or props.get("data_type") == "BOOLEAN":
            continue
        rng = ch.get("control_properties", {}).get("range", {})
        lo, hi = rng.get("min"), rng.get("max")
        if lo is not None and hi is not None:
            return cid, round((lo + hi) / 2.0, 1)
        return cid, 23.5
    return None, None


UNITS = {"DEG_CELSIUS": "°C", "DEG_FAHRENHEIT": "°F", "PERCENT": "%", "BAR": "bar", "LITER": "L",
         "SECOND": "s", "VOLT": "V", "MILLIAMP": "mA", "AMPERE": "A", "WATT": "W", "KELVIN": "K"}


def _fmt_value(v, precision=None):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) or (isinstance(v, int) and precision):
        if isinstance(precision, int):
            return "%.*f" % (precision, v)
        return "%.3f" % v
    return json.dumps(v) if not isinstance(v, str) else v


def _fmt_age(ts_us, now):
    if not ts_us:
        return "-"
    s = max(0.0, now - ts_us / 1e6)
    if s < 100:
        return "%.1fs" % s
    if s < 6000:
        return "%.0fm" % (s / 60)
    return "%.1fh" % (s / 3600)


def _unit(u):
    return UNITS.get(u, (u or "").lower().replace("_", " "))


def fetch_view(conn):
    """The dashboard's view of the demo device (None before it exists)."""
    try:
        return conn.admin.request("GET", "/api/dashboard/devices/%s" % urllib.parse.quote(DEVICE))
    except Exception:
        return None


def _state(view):
    if view is None:
        return "not provisioned yet"
    d = view["device"]
    if not d.get("provisioned"):
        return "not provisioned"
    return "provisioned, %s" % ("connected" if d.get("connected") else "not connected")


def _counts(view):
    if view is None:
        return 0, 0
    return view["data_in"]["reports"], view["data_in"]["points"]


def plain_line(view, started, note):
    now = time.time()
    reports, points = _counts(view)
    vals = ""
    if view is not None:
        vals = " ".join("%s=%s" % (c["id"], _fmt_value(c["latest"]["value"], c.get("precision")))
                        for c in view["channels"] if c.get("latest"))
    line = "[%5.1fs] %s | stored at connector: %d data_in reports, %d points | %s" % (
        now - started, _state(view), reports, points, vals)
    return line + ("\n  " + note if note else "")


def rich_view(view, started, note, url, transport, hint=""):
    """One screen: connection state, counts, the channel table, the dashboard URL."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    now = time.time()
    reports, points = _counts(view)
    state = _state(view)
    head = Text()
    head.append("uedge demo", style="bold")
    head.append("  device %s over %s -> local IoT Connector   elapsed %.0fs\n" % (
        DEVICE, transport, now - started))
    head.append("connection: ")
    head.append(state, style="bold green" if state.endswith(" connected") else "bold yellow")
    if view is not None and view["device"].get("last_seen_us"):
        head.append("   last seen %s ago" % _fmt_age(view["device"]["last_seen_us"], now))
    head.append("\nstored at the connector: ")
    head.append("%d data_in reports" % reports, style="bold")
    head.append(" carrying ")
    head.append("%d channel points" % points, style="bold")
    table = Table(expand=False, show_edge=True, header_style="bold cyan", pad_edge=True)
    for col, kw in (("CH", {}), ("NAME", {}), ("VALUE", {"justify": "right"}), ("UNIT", {}),
                    ("AGE", {"justify": "right"}), ("POINTS", {"justify": "right"}),
                    ("ERRORS", {"max_width": 44, "overflow": "ellipsis", "no_wrap": True})):
        table.add_column(col, **kw)
    for c in (view or {}).get("channels", []):
        lt = c.get("latest")
        err = c.get("error")
        current = err is not None and (lt is None or err["ts_us"] >= lt["ts_us"])
        name = c.get("display_name", "")[:28]
        if c.get("control"):
            name += " [control]"
        table.add_row(
            c["id"], name,
            _fmt_value(lt["value"], c.get("precision")) if lt else "-",
            _unit(c.get("data_unit")),
            _fmt_age(lt["ts_us"], now) if lt else "-",
            str(c.get("points", 0)),
            Text(err["message"], style="bold red" if current else "dim") if err else Text(""))
    parts = [head, table]
    for e in (view or {}).get("device_errors", []):
        parts.append(Text("__error.%s: %s" % (e["key"], e["message"]), style="red"))
    if note:
        parts.append(Text(note, style="magenta"))
    tail = Text("\ndashboard: ")
    tail.append(url, style="bold underline blue")
    if hint:
        tail.append("\n" + hint, style="dim")
    tail.append("\nCtrl-C to stop.", style="dim")
    parts.append(tail)
    return Group(*parts)


class _PlainScreen:
    def __init__(self, print_fn):
        self.print = print_fn

    def update(self, view, started, note, shown):
        self.print(plain_line(view, started, note if note != shown else ""), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m uedge_host.demo", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=None, help="run N seconds, then stop (no Ctrl-C needed)")
    p.add_argument("--workdir", default=None, help="keep the connector and device files here")
    p.add_argument("--keep", action="store_true", help="do not delete the work directory")
    p.add_argument("--http", action="store_true", help="use the HTTPS device API instead of MQTT/TLS")
    p.add_argument("--plain", action="store_true", help="one status line a second, no table")
    args = p.parse_args(argv)

    from uedge_connector.testing import running_connector, start_logged, stop_process

    workdir = args.workdir or tempfile.mkdtemp(prefix="uedge-demo-")
    os.makedirs(workdir, exist_ok=True)
    cfg = _quicken(_example_config())
    cfg_path = os.path.join(workdir, "config_io.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    tty = sys.stdout.isatty() and not args.plain
    stop = {"now": False}

    def _on_signal(signum, frame):
        stop["now"] = True

    old_int = signal.signal(signal.SIGINT, _on_signal)
    old_term = signal.signal(signal.SIGTERM, _on_signal)
    proc = None
    rc = 0
    live = None
    try:
        print("starting the local IoT Connector in %s ..." % workdir)
        with running_connector(workdir, admin_token=True) as conn:
            if args.http:
                endpoint = "https://127.0.0.1:%d" % conn.https_port
            else:
                endpoint = "mqtts://127.0.0.1:%d" % conn.mqtts_port
            link = conn.admin.request("POST", "/api/dashboard/login-link")["path"]
            url = conn.admin_url + link
            token_file = os.path.join(conn.data_dir, "admin.token")
            hint = ("one-time login link; afterwards log in at %s/dashboard/login with the token in %s"
                    % (conn.admin_url, token_file))
            print("dashboard: %s" % url)
            print("  (%s)" % hint)
            cmd = go_command(DEVICE, endpoint, os.path.join(workdir, DEVICE + ".ini"), cfg_path,
                             ca_path=conn.ca_path)
            print("starting: uedge -s %s -H %s -E <ca> -i %s.ini -c config_io.json go" % (
                DEVICE, endpoint, DEVICE))
            # own session: Ctrl-C reaches the demo, which then stops uedge with SIGTERM
            proc = start_logged(cmd, os.path.join(workdir, "uedge.log"), cwd=workdir,
                                start_new_session=True)
            started = time.time()
            cid, target = _control_target(cfg)
            control_sent = False
            note = ""
            shown = ""
            best = (0, 0, 0)
            if tty:
                from rich.console import Console
                from rich.live import Live

                console = Console()
                live = Live(rich_view(None, started, note, url, endpoint.split(":")[0], hint),
                            console=console, auto_refresh=False, transient=False)
                live.start()
            screen = _PlainScreen(print)
            while not stop["now"]:
                if proc.poll() is not None:
                    if live is not None:
                        live.stop()
                        live = None
                    print("\nuedge exited with %s; see %s/uedge.log" % (proc.returncode, workdir))
                    rc = 1
                    break
                elapsed = time.time() - started
                if cid and not control_sent and elapsed > 5:
                    try:
                        conn.set_resource(DEVICE, "data_out", json.dumps({cid: target}))
                        control_sent = True
                        note = "control: data_out {%s: %s} sent; watch channel %s follow" % (cid, target, cid)
                    except Exception:
                        pass
                if control_sent and cid:
                    try:
                        acks = conn.history(DEVICE, "data_out", limit=5, source="device")
                        if acks:
                            note = "control: data_out {%s: %s} acknowledged by the device" % (cid, target)
                    except Exception:
                        pass
                view = fetch_view(conn)
                reports, points = _counts(view)
                if reports > best[0]:
                    best = (reports, points, len([c for c in view["channels"] if c.get("latest")]))
                if live is not None:
                    live.update(rich_view(view, started, note, url, endpoint.split(":")[0], hint), refresh=True)
                else:
                    screen.update(view, started, note, shown)
                shown = note
                if args.duration is not None and elapsed >= args.duration:
                    break
                for _ in range(10):
                    if stop["now"]:
                        break
                    time.sleep(0.1)
            if live is not None:
                live.stop()
                live = None
            print("\nstopping uedge (SIGTERM) ...")
            stop_process(proc, 30)
            view = fetch_view(conn)
            reports, points = _counts(view)
            nchan = len([c for c in view["channels"] if c.get("latest")]) if view else 0
            if reports == 0 and best[0]:  # the connector may have taken the terminal's Ctrl-C too
                reports, points, nchan = best
            print("done: the connector stored %d data_in reports (%d channel points) for %d channels."
                  % (reports, points, nchan))
            if reports == 0:
                rc = 1
            print("stopping the connector ...")
    finally:
        if live is not None:
            live.stop()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        if args.keep or args.workdir:
            print("files kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
