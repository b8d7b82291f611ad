"""Admin ("ExoSense side") JSON API on loopback, and a small client for it.

GET    /api/status
GET    /api/devices
POST   /api/whitelist                         {"ids": ["dev1", ...]}
DELETE /api/devices/<id>
POST   /api/devices/<id>/reset                forget the credential (re-provisioning)
GET    /api/devices/<id>/resources            latest value of every alias
GET    /api/devices/<id>/resources/<alias>?limit=N&since=US&until=US
PUT    /api/devices/<id>/resources/<alias>    body = the value (text); pushed live
GET    /api/devices/<id>/messages             custom-topic messages from the device
POST   /api/devices/<id>/publish              {"topic": t, "payload": p} to its subscriptions
GET    /api/content
PUT    /api/content/<name>                    body = bytes, Content-Type = mime
GET    /api/content/<name>
DELETE /api/content/<name>

With an admin token configured every request needs "Authorization: Bearer <token>"
(or the dashboard's session cookie, see dashboard.py). The dashboard's pages
(/dashboard/...) and its JSON (/api/dashboard/...) are served here too. A
request whose Host does not name a loopback address (the admin API on loopback)
or whose Origin is another site is refused (403).
"""

import json
import urllib.error
import urllib.parse
import urllib.request

from .dashboard import Dashboard
from .http_server import HTTPError, Response

JSON = "application/json"


def jresp(obj, status=200):
    return Response(status, json.dumps(obj), JSON)


class AdminAPI:
    def __init__(self, hub, token=None, info=None, admin_host="127.0.0.1"):
        self.hub = hub
        self.token = token
        self.info = info if info is not None else {}
        self.dashboard = Dashboard(hub, token, self.info, admin_host)

    async def __call__(self, req):
        self.dashboard.check_request(req)
        if req.raw_path == "/" or req.raw_path.startswith("/dashboard"):
            return await self.dashboard.page(req)
        if not self.dashboard.authorized(req):
            raise HTTPError(401, "admin token required")
        parts = [urllib.parse.unquote(p) for p in req.raw_path.split("/")[1:]]
        if not parts or parts[0] != "api":
            raise HTTPError(404, "no such endpoint")
        parts = parts[1:]
        if parts[:1] == ["dashboard"]:
            return await self.dashboard.api(req, parts[1:])
        m = req.method
        hub = self.hub
        store = hub.store
        if parts == ["status"] and m == "GET":
            return jresp(dict(self.info, auth=hub.auth, self_register=hub.self_register,
                              ports=hub.ports))
        if parts == ["devices"] and m == "GET":
            devs = store.devices()
            for d in devs:
                d["connected"] = hub.connected(d["id"])
            return jresp(devs)
        if parts == ["whitelist"] and m == "POST":
            ids = self.body_json(req).get("ids", [])
            for i in ids:
                hub.check_id(i)
                store.whitelist(i)
            return jresp({"whitelisted": ids})
        if len(parts) >= 2 and parts[0] == "devices":
            return self.device(req, parts[1], parts[2:])
        if parts == ["content"] and m == "GET":
            return jresp(hub.content_listing())
        if len(parts) == 2 and parts[0] == "content":
            name = parts[1]
            if m == "PUT" or m == "POST":
                mime = req.header("content-type") or "application/octet-stream"
                store.content_put(name, req.body, mime)
                return jresp(store.content_info(name), 201)
            if m == "GET":
                got = store.content_get(name)
                if got is None:
                    raise HTTPError(404, "no such content")
                return Response(200, got[1], got[0])
            if m == "DELETE":
                if not store.content_delete(name):
                    raise HTTPError(404, "no such content")
                return jresp({"deleted": name})
        raise HTTPError(404, "no such endpoint")

    def body_json(self, req):
        try:
            obj = json.loads(req.body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError) as e:
            raise HTTPError(400, "body is not JSON: %s" % e) from None
        if not isinstance(obj, dict):
            raise HTTPError(400, "body must be a JSON object")
        return obj

    def device(self, req, device_id, rest):
        hub = self.hub
        store = hub.store
        m = req.method
        dev = store.device(device_id)
        if len(rest) == 2 and rest[0] == "resources" and m == "GET":
            # readable before the device exists, so callers can poll for first data
            return jresp(self.resource(req, device_id, rest[1]))
        if dev is None:
            raise HTTPError(404, "no such device %s" % device_id)
        if not rest:
            if m == "DELETE":
                store.delete_device(device_id)
                for s in list(hub.sessions.get(device_id, ())):
                    s.close()
                return jresp({"deleted": device_id})
            if m == "GET":
                dev = {k: v for k, v in dev.items() if not k.startswith("cred")}
                dev["connected"] = hub.connected(device_id)
                return jresp(dev)
        if rest == ["reset"] and m == "POST":
            store.reset(device_id)
            for s in list(hub.sessions.get(device_id, ())):
                s.close()
            return jresp({"reset": device_id})
        if rest == ["resources"] and m == "GET":
            out = {}
            for alias in store.aliases(device_id):
                ts, value, source = store.latest(device_id, alias)
                out[alias] = {"ts_us": ts, "value": value, "source": source}
            return jresp(out)
        if len(rest) == 2 and rest[0] == "resources":
            alias = rest[1]
            if m in ("PUT", "POST"):
                try:
                    value = req.body.decode("utf-8")
                except UnicodeDecodeError:
                    raise HTTPError(400, "value is not UTF-8") from None
                try:
                    ts = hub.cloud_set(device_id, alias, value)
                except ValueError as e:
                    raise HTTPError(413 if "exceeds" in str(e) else 400, str(e)) from None
                return jresp({"device": device_id, "alias": alias, "ts_us": ts,
                              "mqtt_connections": hub.connected(device_id)})
        if rest == ["messages"] and m == "GET":
            return jresp([{"ts_us": t, "topic": tp, "payload": p.decode("utf-8", "replace")}
                          for t, tp, p in hub.messages.get(device_id, [])])
        if rest == ["publish"] and m == "POST":
            body = self.body_json(req)
            n = hub.publish_custom(device_id, body.get("topic", ""),
                                   str(body.get("payload", "")).encode("utf-8"))
            return jresp({"delivered": n})
        raise HTTPError(404, "no such endpoint")

    def resource(self, req, device_id, alias):
        def num(name):
            v = req.arg(name)
            if v is None or v == "":
                return None
            try:
                return int(v)
            except ValueError:
                raise HTTPError(400, "%s must be an integer" % name) from None

        store = self.hub.store
        hist = store.history(device_id, alias, num("limit"), num("since"), num("until"))
        latest = store.latest(device_id, alias)
        return {
            "device": device_id,
            "alias": alias,
            "latest": None if latest is None else
            {"ts_us": latest[0], "value": latest[1], "source": latest[2]},
            "history": [[t, v, s] for t, v, s in hist],
        }


class AdminError(Exception):
    def __init__(self, status, message):
        super().__init__("admin API %d: %s" % (status, message))
        self.status = status


class AdminClient:
    """Blocking client for the admin API (used by the CLI and the test harness)."""

    def __init__(self, url, token=None, timeout=10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, content_type=None, raw=False):
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            content_type = content_type or JSON
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = resp.read()
        except urllib.error.HTTPError as e:
            raise AdminError(e.code, e.read().decode("utf-8", "replace")) from None
        if raw:
            return data
        return json.loads(data.decode("utf-8")) if data else None

    @staticmethod
    def q(s):
        return urllib.parse.quote(s, safe="")

    def status(self):
        return self.request("GET", "/api/status")

    def devices(self):
        return self.request("GET", "/api/devices")

    def whitelist(self, ids):
        return self.request("POST", "/api/whitelist", {"ids": list(ids)})

    def reset(self, device):
        return self.request("POST", "/api/devices/%s/reset" % self.q(device))

    def delete(self, device):
        return self.request("DELETE", "/api/devices/%s" % self.q(device))

    def set_resource(self, device, alias, value):
        if isinstance(value, str):
            value = value.encode("utf-8")
        return self.request("PUT", "/api/devices/%s/resources/%s" % (self.q(device), self.q(alias)),
                            value, "text/plain; charset=utf-8")

    def resource(self, device, alias, limit=None, since=None, until=None):
        query = {k: v for k, v in (("limit", limit), ("since", since), ("until", until))
                 if v is not None}
        path = "/api/devices/%s/resources/%s" % (self.q(device), self.q(alias))
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self.request("GET", path)

    def resources(self, device):
        return self.request("GET", "/api/devices/%s/resources" % self.q(device))

    def messages(self, device):
        return self.request("GET", "/api/devices/%s/messages" % self.q(device))

    def publish(self, device, topic, payload):
        return self.request("POST", "/api/devices/%s/publish" % self.q(device),
                            {"topic": topic, "payload": payload})

    def upload_content(self, name, data, mime="application/octet-stream"):
        return self.request("PUT", "/api/content/%s" % self.q(name), bytes(data), mime)

    def content_list(self):
        return self.request("GET", "/api/content")

    def content_get(self, name):
        return self.request("GET", "/api/content/%s" % self.q(name), raw=True)

    def content_delete(self, name):
        return self.request("DELETE", "/api/content/%s" % self.q(name))
