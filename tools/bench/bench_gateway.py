"""Gateway benchmark: `uedge go` on both transports, side by side, in one run.

    python tools/bench/bench_gateway.py [--seconds 60] [--channels 100] [--rate-ms 100]
                                        [--transports mqtts,https] [--rev REV]

For each transport a fresh local IoT Connector (TLS on loopback) and a real
`uedge go` process with CHANNELS simulated channels sampled and reported every
RATE_MS.  After a warm-up the daemon's CPU (user+sys of all its threads) is
read over a window of SECONDS; then the daemon is stopped (SIGTERM flushes its
queue) and every data_in point the connector stored is counted per channel.

Verification is strict, per channel over the whole run: the points stored plus
the samples merged into the point of their second (HTTP's record API keeps one
point per second; the daemon counts each merged sample in its status) must
equal the reports the daemon produced (every report carries every channel),
and nothing may be left queued.  The CPU figure is per sample of the window
(stored + merged).  Figures:

  FIGURE gw.cpu_per_point.<transport> <us> us   CPU per sampled channel value
  FIGURE gw.rss.<transport> <MB> MB              peak RSS (VmHWM) of the daemon
  FIGURE gw.first_data_in <ms> ms                process start -> first data_in
                                                 stored (MQTT; gw.first_data_in.https)

With --rev REV the same workload also runs the daemon from git revision REV
(extracted with `git archive`), so before/after figures come from one run.

Each tree's modules are compiled to bytecode (__pycache__) first, as an
installed gateway runs them: otherwise a PYTHONDONTWRITEBYTECODE environment
has every start compile every module from source, which is neither the start
time nor the peak memory of a deployed daemon.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in ("lib", "host", "tools/connector"):
    sys.path.insert(0, os.path.join(ROOT, p))

from uedge_connector.testing import running_connector, start_logged, stop_process  # noqa: E402

DEVICE = "gw-bench-0001"
TICK = os.sysconf("SC_CLK_TCK")


def config(n, rate_ms):
    chans = {}
    for i in range(n):
        chans["C%03d" % i] = {
            "display_name": "Signal %d" % i,
            "properties": {"data_type": "NUMBER", "precision": 3},
            "protocol_config": {
                "sample_rate": rate_ms, "report_rate": rate_ms, "down_sample": "ACT",
                "application": "Simulated",
                "app_specific_config": {"function": "sine", "period_ms": 10000 + i, "amplitude": 10},
            },
        }
    return {"last_edited": "2026-01-01T00:00:00Z", "channels": chans}


def cpu_seconds(pid):
    """user+sys CPU of every thread of pid (scheduler ns when available)."""
    try:
        total = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def read_status(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def fresh_status(path, timeout=10.0):
    """The daemon's status as soon as it writes a new one (its `updated` changes)."""
    first = read_status(path).get("updated")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(path)
        if st.get("updated") != first:
            return st
        time.sleep(0.002)
    return read_status(path)


def merged_of(st):
    """{channel: samples merged} from a daemon status (0 for a daemon without the count)."""
    return {k: (c.get("merged") or 0) for k, c in (st.get("channels") or {}).items()}


def stored_points(conn, since_us=None, until_us=None):
    """{channel: points stored with a timestamp in [since, until]}, reports."""
    per = {}
    reports = 0
    for ts, v in conn.history(DEVICE, "data_in", since=since_us, source="device"):
        if until_us is not None and ts > until_us:
            continue
        try:
            d = json.loads(v)
        except ValueError:
            continue
        reports += 1
        for k in d:
            if k != "__error":
                per[k] = per.get(k, 0) + 1
    return per, reports


PROFILED = """\
import cProfile, sys, time
from uedge_host.cli import main
p = cProfile.Profile(time.process_time)
try:
    p.runcall(main, sys.argv[1:])
finally:
    p.dump_stats(%r)
"""


def daemon_command(tree, endpoint, ini, cfg_path, ca_path, profile_out=None):
    run = ["-m", "uedge_host.cli"]
    if profile_out:
        # cProfile on the process CPU clock: time spent waiting (select, a
        # write that lets the connector run first) is not counted
        run = ["-c", PROFILED % profile_out]
    return [sys.executable] + run + ["-s", DEVICE, "-H", endpoint, "-i", ini,
                                     "-c", cfg_path, "-E", ca_path, "-d", "WARNING", "go"]


def run_one(tree, transport, args):
    work = tempfile.mkdtemp(prefix="uedge-gw-")
    try:
        with running_connector(work) as conn:
            port = {"mqtts": conn.mqtts_port, "https": conn.https_port}[transport]
            cfg_path = os.path.join(work, "config_io.json")
            with open(cfg_path, "w") as f:
                json.dump(config(args.channels, args.rate_ms), f)
            prof = None
            if args.profile:
                os.makedirs(args.profile, exist_ok=True)
                prof = os.path.join(os.path.abspath(args.profile), "%s.%s.prof" % (
                    transport, "this" if tree == ROOT else os.path.basename(tree)))
            cmd = daemon_command(tree, "%s://127.0.0.1:%d" % (transport, port),
                                 os.path.join(work, DEVICE + ".ini"), cfg_path, conn.ca_path, prof)
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(os.path.join(tree, p) for p in ("lib", "host"))
            t0 = time.monotonic()
            proc = start_logged(cmd, os.path.join(work, "uedge.log"), env=env, cwd=work)
            first_ms = None
            try:
                while time.monotonic() - t0 < 60 and proc.poll() is None:
                    try:
                        if conn.history(DEVICE, "data_in", limit=1):
                            first_ms = (time.monotonic() - t0) * 1000
                            break
                    except Exception:
                        pass
                    time.sleep(0.005)
                time.sleep(3.0)  # past start-up: imports, provisioning, config push
                status_path = os.path.join(work, DEVICE + ".status.json")
                # window edges at fresh status writes: the merged counts are
                # those of the window's first and last instant
                m0 = merged_of(fresh_status(status_path))
                c0 = cpu_seconds(proc.pid)
                w0 = time.time()
                time.sleep(args.seconds)
                m1 = merged_of(fresh_status(status_path))
                c1 = cpu_seconds(proc.pid)
                w1 = time.time()
                rss_kb = peak_rss_kb(proc.pid)
            finally:
                stop_process(proc, 60)
            time.sleep(0.5)
            per, reports = stored_points(conn, int(w0 * 1e6), int(w1 * 1e6))
            whole, _n = stored_points(conn)
            final = read_status(status_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    expected_each = args.seconds * 1000.0 / args.rate_ms
    merged_win = sum(m1.get(k, 0) - m0.get(k, 0) for k in m1)
    points = sum(per.values()) + merged_win
    # strict: per channel, stored + merged = produced over the whole run, and
    # the queue is empty at the end
    produced = final.get("reports", 0)
    merged = merged_of(final)
    depth = (final.get("queue") or {}).get("depth", 0)
    short = [k for k in ("C%03d" % i for i in range(args.channels))
             if whole.get(k, 0) + merged.get(k, 0) != produced or depth]
    return {"cpu": c1 - c0, "points": points, "stored": sum(per.values()), "merged": merged_win,
            "reports": reports, "rss_mb": rss_kb / 1024.0, "first_ms": first_ms,
            "expected": expected_each * args.channels, "short": short, "produced": produced,
            "lost": final.get("lost", 0)}


def compile_tree(tree):
    """Bytecode for the daemon's packages (lib, host) of tree, in __pycache__."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(tree, "lib"),
                    os.path.join(tree, "host")], check=True, stdout=subprocess.DEVNULL)


def extract_rev(rev):
    d = tempfile.mkdtemp(prefix="uedge-gw-rev-")
    arch = subprocess.run(["git", "-C", ROOT, "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", d], input=arch, check=True)
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window [60]")
    ap.add_argument("--channels", type=int, default=100, help="simulated channels [100]")
    ap.add_argument("--rate-ms", type=int, default=100, help="sample and report rate [100]")
    ap.add_argument("--transports", default="mqtts,https", help="comma list of mqtts, https")
    ap.add_argument("--rev", help="also run the daemon of this git revision (before/after)")
    ap.add_argument("--profile", metavar="DIR",
                    help="run each daemon under cProfile and write DIR/<transport>.<tree>.prof "
                         "(pstats; the CPU figures then include the profiler)")
    args = ap.parse_args(argv)
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    print("gw: CPython %s on %s, %d channels at %.0f Hz, %.0f s window"
          % (platform.python_version(), platform.machine(), args.channels,
             1000.0 / args.rate_ms, args.seconds))
    trees = [("this tree", ROOT, True)]
    tmp = None
    if args.rev:
        tmp = extract_rev(args.rev)
        trees.append(("rev %s" % args.rev, tmp, False))
    rc = 0
    try:
        for label, tree, headline in trees:
            compile_tree(tree)
            for tr in transports:
                r = run_one(tree, tr, args)
                name = "mqtt" if tr.startswith("mqtt") else "https"
                ok = not r["short"] and r["points"]
                print("gw[%s] %s: window %d of %.0f samples (%d stored in %d reports, %d merged); "
                      "whole run: %d reports, stored + merged = produced %s, lost %s"
                      % (label, tr, r["points"], r["expected"], r["stored"], r["reports"], r["merged"],
                         r["produced"], "on every channel" if ok else
                         "FAILS on %d channels: %s" % (len(r["short"]), ",".join(r["short"][:8])),
                         r["lost"]))
                cpu_us = r["cpu"] * 1e6 / r["points"] if r["points"] else float("nan")
                first = r["first_ms"] if r["first_ms"] is not None else float("nan")
                print("gw[%s] %s: CPU %.2f us per point (%.1f%% of a core), peak RSS %.1f MB, "
                      "first data_in %.0f ms" % (label, tr, cpu_us, 100 * r["cpu"] / args.seconds,
                                                r["rss_mb"], first))
                if headline:
                    print("FIGURE gw.cpu_per_point.%s %.2f us" % (name, cpu_us))
                    print("FIGURE gw.rss.%s %.1f MB" % (name, r["rss_mb"]))
                    if name == "mqtt":
                        print("FIGURE gw.first_data_in %.0f ms" % first)
                    else:
                        print("FIGURE gw.first_data_in.%s %.0f ms" % (name, first))
                    if not ok:
                        rc = 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
