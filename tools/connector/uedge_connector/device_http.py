"""Murano HTTP(S) device API, as used by the murano-client package and ExoEdge.

POST /provision/activate          form id=<id> -> 200 <40-char token> | 409 | 404
POST /onep:v1/stack/alias         form alias=value&...  -> 204  (X-Exosite-CIK auth)
GET  /onep:v1/stack/alias?a&b     read latest -> 200 a=<v>&b=<v> | 204
     + Request-Timeout: <ms>      long-poll -> 200 a=<v> | 304 Not Modified
     + If-Modified-Since: <s>     returns at once when an ExoSense-side value
                                  was set after second <s> (one-second resolution)
POST /onep:v1/stack/record        alias=a&<ts>=<v>&<ts>=<v>&alias=b&... -> 204 | 409 conflict
GET  /timestamp                   server time, integer seconds
GET  /provision/download          content names, one per line
GET  /provision/download?id=N&info=true   "<mime>,<length>,<updated s>,"
GET  /provision/download?id=N     content bytes (Range supported)
GET  /content/<name>?expires=&sig=        signed download link from $content
"""

import base64
import binascii
import email.utils
import logging
import time
import urllib.parse

from .http_server import HTTPError, Response
from .hub import MAX_RESOURCE, Refused

LOG = logging.getLogger("uedge_connector.http")

FORM = "application/x-www-form-urlencoded; charset=utf-8"
MAX_LONG_POLL_S = 300.0


def http_date(ts_us):
    return email.utils.formatdate(ts_us / 1e6, usegmt=True)


def parse_form(body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "body is not UTF-8") from None
    return urllib.parse.parse_qsl(text, keep_blank_values=True)


def parse_ts_us(text):
    """Record timestamps: seconds (the HTTP API's unit, fractions allowed); values
    too large to be seconds are taken as milliseconds or microseconds."""
    v = float(text)
    if v >= 1e14:
        return int(v)
    if v >= 1e11:
        return int(v * 1000)
    return int(round(v * 1e6))


def parse_record_ts_us(text, subsecond):
    """A record timestamp: whole seconds since the epoch (what murano-client sends);
    fractions, ms and us only with the record_subsecond extension."""
    if subsecond:
        return parse_ts_us(text)
    if not text.isdigit():
        raise ValueError("record timestamps are whole seconds since 1970, not %r" % text[:40])
    return int(text) * 1000000


def parse_since_s(text):
    """If-Modified-Since -> whole seconds: "seconds since 1970-01-01 00:00:00 UTC or
    standard HTTP-Date format" (Murano HTTP Device API)."""
    text = text.strip()
    try:
        return int(float(text)) if float(text) > 0 else 0
    except ValueError:
        pass
    try:
        return int(email.utils.parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, OverflowError):
        raise HTTPError(400, "bad If-Modified-Since") from None


def parse_since_us(text):
    text = text.strip()
    try:
        return parse_ts_us(text) if float(text) > 0 else 0
    except ValueError:
        pass
    try:
        return int(email.utils.parsedate_to_datetime(text).timestamp() * 1e6)
    except (TypeError, ValueError):
        raise HTTPError(400, "bad If-Modified-Since") from None


def query_aliases(query_string):
    out = []
    for part in query_string.split("&"):
        if part:
            out.append(urllib.parse.unquote_plus(part.split("=", 1)[0]))
    return out


def serve_bytes(req, mime, data):
    headers = {"Accept-Ranges": "bytes"}
    rng = req.header("range")
    if rng and rng.startswith("bytes="):
        first, _, last = rng[6:].split(",")[0].partition("-")
        try:
            if first == "":
                start = max(0, len(data) - int(last))
                end = len(data) - 1
            else:
                start = int(first)
                end = int(last) if last else len(data) - 1
        except ValueError:
            raise HTTPError(400, "bad Range") from None
        end = min(end, len(data) - 1)
        if start > end or start >= len(data):
            return Response(416, b"", headers={"Content-Range": "bytes */%d" % len(data)})
        headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
        return Response(206, data[start:end + 1], mime, headers)
    return Response(200, data, mime, headers)


class DeviceAPI:
    def __init__(self, hub):
        self.hub = hub

    async def __call__(self, req):
        path = req.path
        if path == "/timestamp":
            return Response(200, str(int(time.time())))
        if path == "/provision/activate" and req.method == "POST":
            return self.activate(req)
        if path.startswith("/content/") and req.method in ("GET", "HEAD"):
            return self.signed_download(req)
        if path == "/onep:v1/stack/alias":
            dev = self.authenticate(req)
            if req.method == "POST":
                return self.write(req, dev)
            if req.method == "GET":
                return await self.read(req, dev)
            raise HTTPError(405, "use GET or POST")
        if path == "/onep:v1/stack/record" and req.method == "POST":
            return self.record(req, self.authenticate(req))
        if path == "/provision/download" and req.method in ("GET", "HEAD"):
            self.authenticate(req)
            return self.download(req)
        raise HTTPError(404, "no such endpoint")

    # -- identity ---------------------------------------------------------------
    def authenticate(self, req):
        hub = self.hub
        if hub.auth == "cert":
            cn = req.peer_common_name()
            if not cn:
                raise HTTPError(401, "client certificate required")
            try:
                hub.provision_cert(cn)
            except Refused as e:
                raise HTTPError(401, str(e)) from None
            return cn
        user = ""
        secret = req.header("x-exosite-cik")
        # X-Exosite-CIK is the header the Murano HTTP Device API documents; an
        # Authorization header (and with it password auth) is the
        # http_authorization extension
        auth = req.header("authorization") if hub.ext("http_authorization") else None
        if auth:
            scheme, _, cred = auth.partition(" ")
            scheme = scheme.lower()
            if scheme == "token":
                secret = cred.strip()
            elif scheme == "basic":
                try:
                    user, _, secret = base64.b64decode(cred.strip()).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    raise HTTPError(401, "bad Authorization header") from None
        if not secret:
            raise HTTPError(401, "no credentials (X-Exosite-CIK: <token>)")
        if hub.auth == "token":
            dev = hub.token_device(secret)
            if dev is None or (user and user != dev):
                raise HTTPError(401, "invalid token")
            return dev
        if not hub.password_ok(user, secret):
            raise HTTPError(401, "invalid identity or password")
        return user

    def activate(self, req):
        form = dict(parse_form(req.body))
        device_id = form.get("id") or form.get("sn") or ""
        hub = self.hub
        try:
            if hub.auth == "token":
                token = hub.provision_token(device_id)
                return Response(200, token)
            if hub.auth == "password":
                hub.provision_password(device_id, form.get("password", ""))
                return Response(204)
            cn = req.peer_common_name()
            if not cn:
                raise HTTPError(401, "client certificate required")
            hub.provision_cert(cn)
            return Response(204)
        except Refused as e:
            LOG.info("activation refused: %s", e)
            status = {"exists": 409, "not_whitelisted": 404, "mismatch": 409}.get(e.kind, 400)
            return Response(status, str(e))

    # -- data -------------------------------------------------------------------
    def write(self, req, dev):
        pairs = parse_form(req.body)
        values = {}
        for alias, value in pairs:
            values[alias] = value
        if values:
            try:
                self.hub.device_write(dev, values)
            except ValueError as e:
                raise HTTPError(413 if "exceeds" in str(e) else 400, str(e)) from None
        aliases = query_aliases(req.query_string)
        if aliases:  # hybrid write/read
            return self.read_now(dev, aliases)
        if not values:
            raise HTTPError(400, "nothing to write")
        return Response(204)

    def read_now(self, dev, aliases):
        parts = []
        for alias in aliases:
            latest = self.hub.store.latest(dev, alias)
            if latest is not None:
                parts.append((alias, latest[1]))
        if not parts:
            return Response(204)
        return Response(200, urllib.parse.urlencode(parts), FORM)

    async def read(self, req, dev):
        aliases = query_aliases(req.query_string)
        if not aliases:
            raise HTTPError(400, "no alias given")
        timeout = req.header("request-timeout")
        if timeout is None:
            return self.read_now(dev, aliases)
        if len(aliases) > 1 and self.hub.single_alias_poll:
            raise HTTPError(400, "only one resource may be read at a time when using long polling")
        try:
            timeout_s = min(max(float(timeout) / 1000.0, 0.0), MAX_LONG_POLL_S)
        except ValueError:
            raise HTTPError(400, "bad Request-Timeout") from None
        ims = req.header("if-modified-since")
        if ims is not None:
            if self.hub.ext("poll_unacked"):
                since = parse_since_us(ims)
                for alias in aliases:
                    p = self.hub.pending(dev, alias)
                    if p is not None and p[0] > since:
                        return self.poll_result([(alias, p[1], p[0])])
            else:
                # "specifies waiting on aliases since the <timestamp>": what was set
                # after it is returned at once (Murano HTTP Device API, Long Polling)
                changed = self.hub.changed_since(dev, aliases, parse_since_s(ims))
                if changed:
                    return self.poll_result(changed)
        got = await self.hub.wait_cloud_set(dev, aliases, timeout_s)
        if got is None:
            return Response(304)
        return self.poll_result([got])

    def poll_result(self, changed):
        """changed: [(alias, value, ts_us)] oldest first; Last-Modified is the newest."""
        body = urllib.parse.urlencode([(alias, value) for alias, value, _ts in changed])
        ts = changed[-1][2]
        return Response(200, body, FORM, {"Last-Modified": http_date(ts)})

    def record(self, req, dev):
        """Historical values. A point at a timestamp that already holds one for that
        alias (or is given twice) is a conflict: 409 with the conflicting timestamps
        as murano-client reads them (<alias>=<ts>,<ts>), and nothing of the request is
        stored. The record_replace extension stores every point instead, a later one
        replacing the one at the same time."""
        points = []  # (alias, ts_us, ts_text, value)
        alias = None
        subsecond = self.hub.ext("record_subsecond")
        try:
            for key, value in parse_form(req.body):
                if key == "alias":
                    alias = value
                    continue
                if alias is None:
                    raise ValueError("timestamp before any alias=")
                points.append((alias, parse_record_ts_us(key, subsecond), key, value))
        except ValueError as e:
            raise HTTPError(400, "bad record body: %s" % e) from None
        if not points:
            raise HTTPError(400, "nothing to record")
        if not self.hub.ext("record_replace"):
            conflicts = self.hub.record_conflicts(dev, [(a, ts) for a, ts, _k, _v in points])
            if conflicts:
                first = points[[(a, ts) for a, ts, _k, _v in points].index(conflicts[0])][0]
                keys = [k for a, ts, k, _v in points if a == first and (a, ts) in conflicts]
                LOG.info("%s: record refused, %d point(s) conflict with stored ones",
                         dev, len(conflicts))
                return Response(409, "%s=%s" % (urllib.parse.quote_plus(first),
                                                ",".join(dict.fromkeys(keys))), FORM)
        records = {}
        for a, ts, _k, value in points:
            records.setdefault(ts, {})[a] = value
        try:
            self.hub.device_record(dev, sorted(records.items()))
        except ValueError as e:
            raise HTTPError(413 if "exceeds" in str(e) else 400, str(e)) from None
        return Response(204)

    # -- content ----------------------------------------------------------------
    def download(self, req):
        store = self.hub.store
        name = req.arg("id")
        if name is None:
            names = [c["name"] for c in store.content_list()]
            return Response(200, "\r\n".join(names))
        info = store.content_info(name)
        if info is None:
            raise HTTPError(404, "no such content")
        if req.arg("info") is not None:
            return Response(200, "%s,%d,%d," % (info["mime"], info["length"],
                                                info["updated_us"] // 1000000))
        mime, data = store.content_get(name)
        return serve_bytes(req, mime, data)

    def signed_download(self, req):
        name = req.path[len("/content/"):]
        if not self.hub.check_content_sig(name, req.arg("expires"), req.arg("sig")):
            raise HTTPError(403, "bad or expired link")
        got = self.hub.store.content_get(name)
        if got is None:
            raise HTTPError(404, "no such content")
        return serve_bytes(req, got[0], got[1])


__all__ = ["DeviceAPI", "MAX_RESOURCE"]
