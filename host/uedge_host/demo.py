"""`make demo`: a local IoT Connector and `uedge go` with simulated channels.

Both run on loopback. The device provisions itself over MQTT/TLS, reports the
simulated channels, and this terminal shows what ARRIVES AT THE CONNECTOR
(read from the connector's admin API), refreshed every second, until Ctrl-C
(or --duration N seconds). A control request is sent after a few seconds to
show the data_out round trip. Everything is stopped and removed at the end.

    python -m uedge_host.demo [--duration N] [--workdir DIR] [--keep] [--http]
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time

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


def _fmt_value(v):
    if isinstance(v, float):
        return "%.3f" % v
    return json.dumps(v) if not isinstance(v, str) else v


def _collect(conn):
    """Per channel: latest value, its time and the number of points, from data_in."""
    try:
        hist = conn.history(DEVICE, "data_in", source="device")
    except Exception:
        return {}, 0, {}
    chans = {}
    errors = {}
    for ts, text in hist:
        try:
            d = json.loads(text)
        except ValueError:
            continue
        for cid, v in d.items():
            if cid == "__error":
                for ecid, msg in (v or {}).items():
                    errors[ecid] = (ts, msg)
                continue
            c = chans.setdefault(cid, [None, None, 0])
            c[0], c[1] = v, ts
            c[2] += 1
    return chans, len(hist), errors


def _render(cfg, conn, started, note, tty):
    chans, n, errors = _collect(conn)
    try:
        dev = [d for d in conn.devices() if d["id"] == DEVICE]
    except Exception:
        dev = []
    state = "not provisioned yet"
    if dev:
        state = "provisioned, %s" % ("connected" if dev[0].get("connected") else "not connected")
    now = time.time()
    if not tty:
        vals = " ".join("%s=%s" % (cid, _fmt_value(c[0])) for cid, c in sorted(chans.items()))
        line = "[%5.1fs] %s | data_in points at connector: %d | %s" % (now - started, state, n, vals)
        return line + ("\n  " + note if note else "")
    lines = ["uedge demo: what the local IoT Connector receives from device %s" % DEVICE,
             "connector: %s   elapsed %.0fs   data_in points stored: %d" % (state, now - started, n),
             ""]
    lines.append("%-5s %-26s %-14s %-10s %-7s %s" % ("CH", "NAME", "LAST VALUE", "AGE", "POINTS", "ERROR"))
    for cid, ch in cfg.get("channels", {}).items():
        c = chans.get(cid)
        if c is None:
            val, age, cnt = "-", "-", 0
        else:
            val, age, cnt = _fmt_value(c[0]), "%.1fs" % max(0.0, now - c[1] / 1e6), c[2]
        err = errors.get(cid)
        lines.append("%-5s %-26s %-14s %-10s %-7d %s" % (
            cid, ch.get("display_name", "")[:26], val[:14], age, cnt, err[1][:40] if err else ""))
    if note:
        lines += ["", note]
    lines += ["", "Ctrl-C to stop."]
    return "\x1b[H\x1b[2J" + "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m uedge_host.demo", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=None, help="run N seconds, then stop (no Ctrl-C needed)")
    p.add_argument("--workdir", default=None, help="keep the connector and device files here")
    p.add_argument("--keep", action="store_true", help="do not delete the work directory")
    p.add_argument("--http", action="store_true", help="use the HTTPS device API instead of MQTT/TLS")
    args = p.parse_args(argv)

    from uedge_connector.testing import running_connector, start_logged, stop_process

    workdir = args.workdir or tempfile.mkdtemp(prefix="uedge-demo-")
    os.makedirs(workdir, exist_ok=True)
    cfg = _quicken(_example_config())
    cfg_path = os.path.join(workdir, "config_io.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    tty = sys.stdout.isatty()
    stop = {"now": False}

    def _on_signal(signum, frame):
        stop["now"] = True

    old_int = signal.signal(signal.SIGINT, _on_signal)
    old_term = signal.signal(signal.SIGTERM, _on_signal)
    proc = None
    rc = 0
    try:
        print("starting the local IoT Connector in %s ..." % workdir)
        with running_connector(workdir) as conn:
            if args.http:
                endpoint = "https://127.0.0.1:%d" % conn.https_port
            else:
                endpoint = "mqtts://127.0.0.1:%d" % conn.mqtts_port
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
            best = (0, {})
            while not stop["now"]:
                if proc.poll() is not None:
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
                        acks = conn.history(DEVICE, "data_out", source="device")
                        if acks:
                            note = "control: data_out {%s: %s} acknowledged by the device" % (cid, target)
                    except Exception:
                        pass
                seen = _collect(conn)
                if seen[1] > best[0]:
                    best = (seen[1], seen[0])
                out = _render(cfg, conn, started, note if (tty or note != shown) else "", tty)
                shown = note
                print(out, flush=True)
                if args.duration is not None and elapsed >= args.duration:
                    break
                for _ in range(10):
                    if stop["now"]:
                        break
                    time.sleep(0.1)
            print("\nstopping uedge (SIGTERM) ...")
            stop_process(proc, 30)
            chans, n, _errors = _collect(conn)
            if n == 0 and best[0]:  # the connector may have taken the terminal's Ctrl-C too
                n, chans = best[0], best[1]
            print("done: the connector stored %d data_in points for %d channels." % (n, len(chans)))
            if n == 0:
                rc = 1
            print("stopping the connector ...")
    finally:
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
