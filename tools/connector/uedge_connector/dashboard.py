"""The connector's dashboard: a browser view of the devices, their channels,
plots of the channel history, control requests and the config editors, served
on the admin port under the admin API's auth rules.

Pages and their JSON (all under the admin port):

GET  /dashboard/                         the page (static html/js/css, no build step)
GET  /dashboard/login[?key=K]            login form; a one-time key logs in at once
POST /dashboard/login                    form token=<admin token> -> session cookie
POST /dashboard/logout
POST /api/dashboard/login-link           (admin token) -> {"path": one-time login path}
GET  /api/dashboard/overview             status + devices with their state
GET  /api/dashboard/devices/<id>         channels (config_io + latest value/error), counts
GET  /api/dashboard/devices/<id>/series?channels=a,b&since=US&until=US&max=N
GET  /api/dashboard/devices/<id>/csv?channel=C&since=US&until=US
POST /api/dashboard/devices/<id>/control {"channel": C, "value": V} -> data_out
GET  /api/dashboard/devices/<id>/control?ts=US&channel=C   ack / echo / error since ts
GET  /api/dashboard/devices/<id>/config/<config_io|config_applications>
PUT  /api/dashboard/devices/<id>/config/<name>  validated, then set (pushed to the device)
POST /api/dashboard/validate/<config_io|config_applications>   body = the text

Auth: without an admin token everything is open on loopback, as the admin API
is. With one, the JSON needs "Authorization: Bearer <token>" or the session
cookie (HttpOnly, SameSite=Strict) that the login sets; the page itself sends
only the cookie. Every request's Host must name the admin address (no DNS
rebinding) and a request carrying an Origin must come from that same origin;
cookie-authenticated writes must carry it. Neither the token nor session ids
are logged.
"""

import csv
import io
import json

from .dashboard_auth import DashboardAuth
from .dashboard_data import (CONFIG_NAMES, MAX_SERIES_POINTS, DataInIndex, check_control,
                             describe_channel, iso, jresp, parse_rows, plot_value, same_value, thin,
                             validate)
from .http_server import HTTPError, Response
from .store import now_us


class Dashboard(DashboardAuth):
    """The JSON behind the page: overview, device views, series, CSV, control, configs."""

    def __init__(self, hub, token=None, info=None, admin_host="127.0.0.1"):
        DashboardAuth.__init__(self, token, info, admin_host)
        self.hub = hub
        self.indexes = {}  # device id -> DataInIndex

    # -- JSON ------------------------------------------------------------------------
    async def api(self, req, parts):
        """parts: the path after /api/dashboard/."""
        m = req.method
        if parts == ["login-link"] and m == "POST":
            if not self.bearer(req):
                raise HTTPError(401, "admin token required")
            if self.token is None:
                return jresp({"path": "/dashboard/"})
            return jresp({"path": "/dashboard/login?key=" + self.new_login_key()})
        if parts == ["overview"] and m == "GET":
            return jresp(self.overview())
        if len(parts) == 2 and parts[0] == "validate" and parts[1] in CONFIG_NAMES and m == "POST":
            text = self._text(req)
            parsed, err = validate(parts[1], text)
            return jresp({"ok": err is None, "error": err,
                          "summary": None if parsed is None else self._summary(parts[1], parsed)})
        if len(parts) >= 2 and parts[0] == "devices":
            return self.device(req, parts[1], parts[2:])
        raise HTTPError(404, "no such endpoint")

    def _text(self, req):
        try:
            return req.body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "body is not UTF-8") from None

    def _summary(self, name, parsed):
        if name == "config_io":
            return {"channels": list(parsed.order)}
        return {"applications": sorted(parsed.applications)}

    def overview(self):
        hub = self.hub
        devs = []
        for d in hub.store.devices():
            idx = self.index(d["id"])
            last = self.last_seen(d["id"])
            devs.append(dict(d, connected=hub.connected(d["id"]), last_seen_us=last,
                             reports=idx.rows, points=idx.points))
        status = {k: self.info.get(k) for k in ("auth", "started_us", "data_dir")}
        status["ports"] = dict(hub.ports)
        status["self_register"] = hub.self_register
        status["login"] = self.token is not None
        return {"now_us": now_us(), "status": status, "devices": devs}

    def last_seen(self, device_id):
        """Time of the device's newest write of any resource (None: never)."""
        store = self.hub.store
        row = store.db.execute(
            "SELECT max(ts_us) FROM resources WHERE device=? AND source='device'",
            (device_id,)).fetchone()
        return row[0] if row else None

    def index(self, device_id):
        """The device's DataInIndex, brought up to date with the store."""
        db = self.hub.store.db
        idx = self.indexes.get(device_id)
        count, max_ts = db.execute(
            "SELECT count(*), max(ts_us) FROM resources WHERE device=? AND alias='data_in'"
            " AND source='device'", (device_id,)).fetchone()
        max_ts = max_ts or 0
        if idx is not None and count == idx.rows and max_ts == idx.max_ts:
            return idx
        rows = None
        if idx is not None and count > idx.rows:
            rows = db.execute(
                "SELECT ts_us, value FROM resources WHERE device=? AND alias='data_in'"
                " AND source='device' AND ts_us>? ORDER BY ts_us", (device_id, idx.max_ts)).fetchall()
            if len(rows) != count - idx.rows:
                rows = None  # points were written in the past: count again
        if rows is None:
            idx = DataInIndex()
            rows = db.execute(
                "SELECT ts_us, value FROM resources WHERE device=? AND alias='data_in'"
                " AND source='device' ORDER BY ts_us", (device_id,)).fetchall()
        for ts, text in rows:
            idx.add(ts, text)
        self.indexes[device_id] = idx
        return idx

    def config(self, device_id, name):
        """(latest text, ts_us, source) or (None, None, None)."""
        latest = self.hub.store.latest(device_id, name)
        if latest is None:
            return None, None, None
        return latest[1], latest[0], latest[2]

    def device(self, req, device_id, rest):
        hub = self.hub
        store = hub.store
        m = req.method
        dev = store.device(device_id)
        if dev is None:
            raise HTTPError(404, "no such device %s" % device_id)
        if not rest and m == "GET":
            return jresp(self.device_view(dev))
        if rest == ["series"] and m == "GET":
            return jresp(self.series(req, device_id))
        if rest == ["csv"] and m == "GET":
            return self.csv(req, device_id)
        if rest == ["control"] and m == "POST":
            return self.control(req, device_id)
        if rest == ["control"] and m == "GET":
            return jresp(self.control_status(req, device_id))
        if len(rest) == 2 and rest[0] == "config" and rest[1] in CONFIG_NAMES:
            name = rest[1]
            if m == "GET":
                text, ts, source = self.config(device_id, name)
                err = None
                if text is not None:
                    err = validate(name, text)[1]
                return jresp({"name": name, "text": text, "ts_us": ts, "source": source,
                              "valid": text is not None and err is None, "error": err})
            if m == "PUT":
                text = self._text(req)
                parsed, err = validate(name, text)
                if err is not None:
                    return jresp({"ok": False, "error": err}, 422)
                ts = hub.cloud_set(device_id, name, text)
                return jresp({"ok": True, "ts_us": ts, "summary": self._summary(name, parsed)})
        raise HTTPError(404, "no such endpoint")

    def parsed_config(self, device_id):
        text, ts, source = self.config(device_id, "config_io")
        if text is None:
            return None, None, None
        parsed, err = validate("config_io", text)
        return parsed, err, {"ts_us": ts, "source": source}

    def device_view(self, dev):
        device_id = dev["id"]
        idx = self.index(device_id)
        parsed, err, meta = self.parsed_config(device_id)
        channels = []
        known = set()
        if parsed is not None:
            for cfg in parsed:
                known.add(cfg.id)
                channels.append(describe_channel(cfg))
        for cid in sorted(set(idx.latest) - known):  # values for channels config_io lacks
            channels.append({"id": cid, "display_name": cid, "kind": "unknown",
                             "not_in_config": True, "control": False})
        for ch in channels:
            cid = ch["id"]
            lt = idx.latest.get(cid)
            ch["latest"] = None if lt is None else {"ts_us": lt[0], "value": lt[1]}
            er = idx.errors.get(cid)
            ch["error"] = None if er is None else {"ts_us": er[0], "message": er[1]}
            ch["points"] = idx.counts.get(cid, 0)
        other_errors = [{"key": k, "ts_us": v[0], "message": v[1]}
                        for k, v in sorted(idx.errors.items()) if k not in known]
        info = {k: v for k, v in dev.items() if not k.startswith("cred")}
        info["provisioned"] = info.get("provisioned_us") is not None
        info["connected"] = self.hub.connected(device_id)
        info["last_seen_us"] = self.last_seen(device_id)
        return {
            "now_us": now_us(),
            "device": info,
            "config_io": None if meta is None else dict(meta, valid=err is None, error=err),
            "channels": channels,
            "device_errors": other_errors,
            "data_in": {"reports": idx.rows, "points": idx.points},
        }

    def _range(self, req):
        def num(name):
            v = req.arg(name)
            if v in (None, ""):
                return None
            try:
                return int(v)
            except ValueError:
                raise HTTPError(400, "%s must be an integer" % name) from None
        return num("since"), num("until"), num("max")

    def series(self, req, device_id):
        since, until, max_points = self._range(req)
        wanted = [c for c in (req.arg("channels") or "").split(",") if c]
        rows = self.hub.store.history(device_id, "data_in", None, since, until)
        rows = [r for r in rows if r[2] == "device"]
        pts, errs = parse_rows(rows)
        limit = min(max_points or MAX_SERIES_POINTS, MAX_SERIES_POINTS)
        out = {}
        for cid in wanted or list(pts):
            plotted = [[t, plot_value(v)] for t, v in pts.get(cid, ())]
            plotted = [p for p in plotted if p[1] is not None]
            out[cid] = thin(plotted, limit)
        return {"now_us": now_us(), "until_us": rows[-1][0] if rows else None,
                "series": out,
                "errors": {cid: e for cid, e in errs.items() if not wanted or cid in wanted}}

    def csv(self, req, device_id):
        cid = req.arg("channel")
        if not cid:
            raise HTTPError(400, "channel is required")
        since, until, _ = self._range(req)
        rows = [r for r in self.hub.store.history(device_id, "data_in", None, since, until)
                if r[2] == "device"]
        pts, errs = parse_rows(rows)
        merged = {}
        for t, v in pts.get(cid, ()):
            merged.setdefault(t, [None, ""])[0] = v
        for t, msg in errs.get(cid, ()):
            merged.setdefault(t, [None, ""])[1] = msg
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["time_utc", "ts_us", "value", "error"])
        for t in sorted(merged):
            v, msg = merged[t]
            if v is None:
                cell = ""
            elif isinstance(v, str):
                cell = v
            else:
                cell = json.dumps(v)
            w.writerow([iso(t), t, cell, msg])
        fname = "%s_%s.csv" % (device_id, cid)
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in fname)
        return Response(200, buf.getvalue(), "text/csv; charset=utf-8", {
            "Content-Disposition": 'attachment; filename="%s"' % safe,
            "Cache-Control": "no-store"})

    def control(self, req, device_id):
        try:
            body = json.loads(self._text(req) or "{}")
        except ValueError:
            raise HTTPError(400, "body is not JSON") from None
        if not isinstance(body, dict) or "channel" not in body or "value" not in body:
            raise HTTPError(400, 'body must be {"channel": id, "value": value}')
        cid = body["channel"]
        parsed, err, _meta = self.parsed_config(device_id)
        if parsed is None:
            return jresp({"ok": False, "error": "the device has no valid config_io%s"
                          % (": " + err if err else "")}, 422)
        cfg = parsed.channels.get(cid)
        if cfg is None:
            return jresp({"ok": False, "error": "channel %s is not in config_io" % cid}, 422)
        value, err = check_control(cfg, body["value"])
        if err is not None:
            return jresp({"ok": False, "error": err}, 422)
        text = json.dumps({cid: value})
        ts = self.hub.cloud_set(device_id, "data_out", text)
        return jresp({"ok": True, "ts_us": ts, "data_out": text,
                      "mqtt_connections": self.hub.connected(device_id)})

    def control_status(self, req, device_id):
        try:
            ts = int(req.arg("ts") or "")
        except ValueError:
            raise HTTPError(400, "ts must be an integer") from None
        cid = req.arg("channel") or ""
        store = self.hub.store
        sent = [r for r in store.history(device_id, "data_out", None, ts, ts) if r[2] == "cloud"]
        ack = None
        for t, v, s in store.history(device_id, "data_out", None, ts + 1, None):
            if s == "device" and (not sent or v == sent[0][1]):
                ack = {"ts_us": t, "value": v}
                break
        echo = error = None
        rows = [r for r in store.history(device_id, "data_in", None, ts, None) if r[2] == "device"]
        pts, errs = parse_rows(rows)
        want = None
        if sent:
            try:
                want = json.loads(sent[0][1]).get(cid)
            except (ValueError, AttributeError):
                want = None
        # the echo: the requested state reported in data_in after the request (the
        # device stamps a report with its sample time, which can precede the ack)
        later = pts.get(cid, ())
        for t, v in later:
            if same_value(v, want):
                echo = {"ts_us": t, "value": v, "matches": True}
                break
        if echo is None and later and ack is not None and later[-1][0] > ack["ts_us"]:
            echo = {"ts_us": later[-1][0], "value": later[-1][1], "matches": False}
        if errs.get(cid):
            t, msg = errs[cid][0]
            error = {"ts_us": t, "message": msg}
        return {"now_us": now_us(), "sent": sent[0][1] if sent else None,
                "ack": ack, "echo": echo, "error": error}
