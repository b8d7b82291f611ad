"""Edge daemon benchmark: a real `uedge go` against the local connector on loopback.

Figures (one line each):
  edge.cpu_us_per_datapoint   CPU (user+sys) of the uedge process per channel value
                              delivered to the connector, 100 channels at 10 Hz
  edge.peak_rss_mb            peak resident set size of the uedge process (VmHWM)
  edge.control_rtt_ms         data_out set at the connector -> new state visible in
                              data_in at the connector (median, p99), under the same load
  edge.first_data_in_ms       process start -> first data_in stored at the connector
ExoEdge reference: ~150 us CPU per datapoint, ~40 MB RSS.

    python tools/bench/bench_edge.py [--seconds 60] [--channels 100] [--rate-ms 100]
                                     [--transport mqtt|mqtts|http] [--controls 50]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in ("lib", "host", "tools/connector"):
    sys.path.insert(0, os.path.join(ROOT, p))

from uedge_connector.testing import running_connector, start_logged, stop_process  # noqa: E402
from uedge_host.demo import go_command  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gateway import config as gateway_config  # noqa: E402
from bench_gateway import cpu_seconds, peak_rss_kb  # noqa: E402  (one way to read /proc)

DEVICE = "bench-0001"
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def config(n, rate_ms):
    """bench_gateway's channels plus a control channel for the round trips."""
    cfg = gateway_config(n, rate_ms)
    chans = cfg["channels"]
    chans["SET"] = {
        "display_name": "Set point",
        "properties": {"data_type": "NUMBER", "control": True},
        "protocol_config": {"report_rate": 60000, "application": "Simulated",
                            "app_specific_config": {"function": "step", "initial": 0}},
        "control_properties": {"range": {"min": 0, "max": 100000}},
    }
    return cfg


def count_points(conn, since_us, until_us):
    n = 0
    reports = 0
    for ts, v in conn.history(DEVICE, "data_in", since=since_us, source="device"):
        if ts > until_us:
            continue
        try:
            d = json.loads(v)
        except ValueError:
            continue
        reports += 1
        n += len(d) - (1 if "__error" in d else 0)
    return n, reports


def merged_samples(work):
    """Samples the daemon merged into the point of their second (HTTP), from its status file."""
    try:
        with open(os.path.join(work, DEVICE + ".status.json")) as f:
            return int(json.load(f).get("merged") or 0)
    except (OSError, ValueError):
        return 0


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[k]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="load window length [60]")
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--rate-ms", type=int, default=100)
    ap.add_argument("--transport", choices=("mqtt", "mqtts", "http"), default="mqtt")
    ap.add_argument("--controls", type=int, default=50, help="control round trips to time [50]")
    ap.add_argument("--runtime", choices=("cpython", "micropython", "both"), default="both",
                    help="uedge go (CPython) and/or the same loop on the MicroPython unix port [both]")
    args = ap.parse_args(argv)
    rc = outbox_figures()
    runtimes = ("cpython", "micropython") if args.runtime == "both" else (args.runtime,)
    for rt in runtimes:
        if rt == "micropython":
            if not os.path.exists(MICROPYTHON):
                print("edge.micropython: %s not found, skipped" % MICROPYTHON)
                continue
            if args.transport != "mqtt":
                print("edge.micropython: runs over plain mqtt only, skipped for %s" % args.transport)
                continue
        rc |= run_one(args, rt)
    return rc


def outbox_figures():
    """Queue throughput (offline path): SQLite on gateways, segment files on boards."""
    from uedge_host.outbox_sqlite import SqliteOutbox

    payload = json.dumps(dict(("C%03d" % i, 12.345 + i) for i in range(100)))
    for sync in ("normal", "full"):
        d = tempfile.mkdtemp(prefix="uedge-bench-q-")
        q = SqliteOutbox(os.path.join(d, "q.db"), cap_items=0, sync=sync)
        n = 2000 if sync == "normal" else 300
        t0 = time.perf_counter()
        for i in range(n):
            q.put(i, payload)
        t1 = time.perf_counter()
        got = 0
        while True:
            b = q.peek(100, 262144)
            if not b:
                break
            got += len(b)
            q.ack([x[0] for x in b])
        t2 = time.perf_counter()
        q.close()
        import shutil

        shutil.rmtree(d, ignore_errors=True)
        print("edge.outbox.sqlite.%s: %.0f puts/s, %.0f reports/s peek+ack (%d-byte reports)"
              % (sync, n / (t1 - t0), got / (t2 - t1), len(payload)))
    script = os.path.join(ROOT, "tools", "bench", "mpy_outbox_bench.py")
    for name, exe in (("cpython", sys.executable), ("micropython", MICROPYTHON)):
        if not os.path.exists(exe):
            continue
        d = tempfile.mkdtemp(prefix="uedge-bench-seg-")
        try:
            out = subprocess.run([exe, script, os.path.join(d, "q"), "2000"], capture_output=True,
                                 text=True, timeout=120)
            r = json.loads(out.stdout.strip().splitlines()[-1])
        except Exception as e:
            print("edge.outbox.%s: failed: %s" % (name, e))
            continue
        finally:
            import shutil

            shutil.rmtree(d, ignore_errors=True)
        for kind in ("segment", "memory"):
            x = r[kind]
            extra = ""
            if x.get("alloc_per_put") is not None:
                extra = ", %.0f bytes allocated per put" % x["alloc_per_put"]
            print("edge.outbox.%s.%s: %.0f puts/s, %.0f reports/s peek+ack%s"
                  % (name, kind, x["put_per_s"], x["replay_per_s"], extra))
    return 0


def run_one(args, runtime):

    work = tempfile.mkdtemp(prefix="uedge-bench-")
    try:
        return _run(args, runtime, work)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _run(args, runtime, work):
    with running_connector(work) as conn:
        port = {"mqtt": conn.mqtt_port, "mqtts": conn.mqtts_port, "http": conn.http_port}[args.transport]
        cfg_path = os.path.join(work, "config_io.json")
        with open(cfg_path, "w") as f:
            json.dump(config(args.channels, args.rate_ms), f)
        if runtime == "micropython":
            cmd = [MICROPYTHON, "-X", "heapsize=1M", os.path.join(ROOT, "tools", "bench", "mpy_edge_bench.py"),
                   "127.0.0.1", str(port), DEVICE, cfg_path, os.path.join(work, "token")]
        else:
            cmd = go_command(DEVICE, "%s://127.0.0.1:%d" % (args.transport, port),
                             os.path.join(work, DEVICE + ".ini"), cfg_path,
                             ca_path=conn.ca_path if args.transport == "mqtts" else None,
                             options=["-d", "WARNING"])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(os.path.join(ROOT, p) for p in ("lib", "host", "tools/connector"))
        t0 = time.monotonic()
        proc = start_logged(cmd, os.path.join(work, "uedge.log"), env=env, cwd=work)
        try:
            # -- start -> first data_in at the connector
            first_ms = None
            while time.monotonic() - t0 < 60:
                try:
                    if conn.history(DEVICE, "data_in", limit=1):
                        first_ms = (time.monotonic() - t0) * 1000
                        break
                except Exception:
                    pass
                time.sleep(0.005)
            # -- steady load: CPU per delivered datapoint
            time.sleep(2.0)  # past start-up (imports, provisioning, config push)
            m0 = merged_samples(work)
            c0 = cpu_seconds(proc.pid)
            w0 = time.time()
            time.sleep(args.seconds)
            c1 = cpu_seconds(proc.pid)
            w1 = time.time()
            m1 = merged_samples(work)
            time.sleep(1.0)  # let the window's last reports land
            points, reports = count_points(conn, int(w0 * 1e6), int(w1 * 1e6))
            # over HTTP (one point per second) the samples merged into their
            # second's point are delivered datapoints too
            points += m1 - m0
            cpu = c1 - c0
            # -- control round trips under the same load
            rtts = []
            for i in range(args.controls):
                value = 1000 + i
                t_set = time.monotonic()
                ts_set = conn.set_resource(DEVICE, "data_out", json.dumps({"SET": value}))
                while time.monotonic() - t_set < 10:
                    hit = False
                    for _ts, v in conn.history(DEVICE, "data_in", since=ts_set, source="device"):
                        if '"SET":%d' % value in v.replace(" ", ""):
                            hit = True
                            break
                    if hit:
                        rtts.append((time.monotonic() - t_set) * 1000)
                        break
                    time.sleep(0.002)
                time.sleep(0.05)
            rss_kb = peak_rss_kb(proc.pid)
        finally:
            stop_process(proc, 30)
    P = "edge.%s." % runtime
    expected = args.channels * (1000.0 / args.rate_ms) * args.seconds
    print(P + "load: %d channels at %.0f Hz over %s for %.0f s: %d datapoints in %d reports "
          "delivered (%.1f%% of %d sampled)" % (args.channels, 1000.0 / args.rate_ms, args.transport,
                                                args.seconds, points, reports,
                                                100.0 * points / expected if expected else 0, expected))
    if points:
        print(P + "cpu_us_per_datapoint: %.2f us (CPU %.2f s over %.0f s = %.1f%% of one core; "
              "ExoEdge ref ~150 us)" % (cpu * 1e6 / points, cpu, args.seconds, 100 * cpu / args.seconds))
    if runtime == "micropython":
        heap = [ln for ln in open(os.path.join(work, "uedge.log")).read().splitlines() if ln.startswith("HEAP")]
        if heap:
            kv = dict(x.split("=") for x in heap[-1].split()[1:])
            print(P + "heap_kb: live %.0f KB, peak %.0f KB of a %.0f KB heap (the board figure; the "
                  "unix port here runs inside a CPython process, so its RSS is not)"
                  % (int(kv["live"]) / 1024.0, int(kv["peak"]) / 1024.0, int(kv["total"]) / 1024.0))
    else:
        print(P + "peak_rss_mb: %.1f MB (ExoEdge ref ~40 MB)" % (rss_kb / 1024.0))
    if rtts:
        print(P + "control_rtt_ms: median %.1f ms, p99 %.1f ms (%d/%d round trips, data_out set -> "
              "state in data_in at the connector)" % (pct(rtts, 0.5), pct(rtts, 0.99), len(rtts), args.controls))
    else:
        print(P + "control_rtt_ms: no round trip completed")
    print(P + "first_data_in_ms: %.0f ms (process start -> first data_in stored at the connector)"
          % (first_ms if first_ms is not None else float("nan")))
    return 0 if points else 1


if __name__ == "__main__":
    sys.exit(main())
