"""`uedge status`: read the status file the running daemon keeps up to date.

The daemon rewrites <status_file> about once a second (write to a temporary
file, then rename, so a reader never sees half a file).
"""

import os
import sys
import time

from uedge.compat import json


def read(path):
    with open(path) as f:
        return json.load(f)


def _ago(t, now):
    if t is None:
        return "-"
    d = now - t
    if d < 0:
        d = 0
    if d < 120:
        return "%.1fs ago" % d
    if d < 7200:
        return "%dm ago" % (d // 60)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _alive(pid):
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, TypeError, ValueError):
        return False


def render(st, now=None):
    now = time.time() if now is None else now
    lines = []
    pid = st.get("pid")
    running = _alive(pid) and st.get("reason") != "stopped"
    upd = st.get("updated")
    lines.append("device     %s" % st.get("device"))
    lines.append("endpoint   %s (%s)" % (st.get("endpoint"), st.get("transport")))
    if running:
        state = "connected" if st.get("connected") else "disconnected (%s)" % st.get("reason")
        lines.append("daemon     running, pid %s, status updated %s" % (pid, _ago(upd, now)))
    else:
        state = "not running (last status %s)" % _ago(upd, now)
        lines.append("daemon     not running")
    lines.append("connection %s" % state)
    q = st.get("queue") or {}
    lines.append(
        "queue      %s reports waiting (%s bytes), %s dropped (strategy %s), %s damaged skipped"
        % (q.get("depth", 0), q.get("bytes", 0), q.get("dropped", 0), q.get("strategy", "-"),
           q.get("corrupted", 0))
    )
    lines.append(
        "reports    %s produced, %s delivered (%s replayed), %s queued, %s lost, %s in flight"
        % (st.get("reports", 0), st.get("delivered", 0), st.get("replayed", 0), st.get("queued", 0),
           st.get("lost", 0), st.get("inflight", 0))
    )
    if st.get("merged") or st.get("conflicts"):
        lines.append(
            "merged     %s samples merged into the report of their second (%s reports), "
            "%s reports already stored (HTTP 409)"
            % (st.get("merged", 0), st.get("merged_reports", 0), st.get("conflicts", 0)))
    lines.append("control    %s applied, %s rejected" % (st.get("control_ok", 0), st.get("control_rejected", 0)))
    if st.get("last_error"):
        lines.append("last error %s" % st["last_error"])
    o = st.get("ota")
    if o:
        text = "version %s%s" % (o.get("version"), " (pending confirmation)" if o.get("pending") else "")
        if o.get("last"):
            text += "; %s" % o["last"]
        if o.get("error"):
            text += "; last check failed: %s" % o["error"]
        lines.append("ota        %s" % text)
    chans = st.get("channels") or {}
    lines.append("config_io  last_edited %s, %d channels" % (st.get("config_last_edited"), len(chans)))
    if chans:
        lines.append("")
        lines.append("%-10s %-24s %-18s %-14s %s" % ("CHANNEL", "NAME", "VALUE", "TIME", "ERROR"))
        for cid in chans:
            c = chans[cid]
            v = c.get("value")
            vs = "-" if v is None else json.dumps(v) if not isinstance(v, str) else v
            ts = c.get("ts_us")
            lines.append("%-10s %-24s %-18s %-14s %s" % (
                cid, (c.get("name") or "")[:24], vs[:18], _ago(ts / 1e6 if ts else None, now),
                c.get("error") or ""))
    return "\n".join(lines)


def show(path, as_json=False, out=None):
    out = out or sys.stdout
    try:
        st = read(path)
    except FileNotFoundError:
        print("uedge status: no status file %s (is the daemon running with the same -i/--status-file?)" % path,
              file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print("uedge status: cannot read %s: %s" % (path, e), file=sys.stderr)
        return 1
    if as_json:
        out.write(json.dumps(st, indent=2) + "\n")
    else:
        out.write(render(st) + "\n")
    return 0
