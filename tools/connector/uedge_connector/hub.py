"""Connector state shared by the MQTT, HTTP and admin front ends.

The Hub owns the store, decides provisioning, and fans "ExoSense side" resource
changes out to the device: a PUBLISH to every MQTT connection of that device and
the release of its HTTP long-polls.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
import urllib.parse

from . import store as store_mod

LOG = logging.getLogger("uedge_connector")

MAX_RESOURCE = 1048576  # bytes per resource value (Murano limit)
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")

# Behaviours beyond what the Murano documents say Murano does. Each is off by
# default; name -> (command line flag, what it does). docs/connector.md has the
# table of every behaviour and its source.
EXTENSIONS = {
    "resend_on_connect": (
        "--resend-on-connect",
        "MQTT: right after CONNACK, publish every ExoSense-side value the device has"
        " not written back since it was set (a change made while it was offline)",
    ),
    "poll_unacked": (
        "--poll-unacked",
        "HTTP: a long poll with If-Modified-Since returns at once an ExoSense-side value"
        " the device has not written back, however old, and never one it has written back",
    ),
    "json_values": (
        "--json-values",
        "MQTT: non-string JSON values in $resource/ and $resource.batch are stored as their"
        " JSON text instead of refusing the message",
    ),
    "http_authorization": (
        "--http-authorization",
        "HTTP: credentials also in an Authorization header (token <t>, or Basic id:password,"
        " the only way to use password auth over HTTP), not only X-Exosite-CIK",
    ),
    "record_replace": (
        "--record-replace",
        "HTTP: a record point at a timestamp that already holds one (or given twice in"
        " one request) replaces it, instead of a 409 conflict that stores nothing",
    ),
    "record_subsecond": (
        "--record-subsecond",
        "HTTP: record timestamps may carry fractions of a second, or be given in ms or us",
    ),
}


def check_extensions(names):
    names = frozenset(names or ())
    unknown = sorted(names - set(EXTENSIONS))
    if unknown:
        raise ValueError("unknown connector extension(s): %s" % ", ".join(unknown))
    return names


class Refused(Exception):
    """A provisioning or authentication refusal; str() is the reason and kind one
    of "invalid", "exists", "not_whitelisted", "mismatch"."""

    def __init__(self, message, kind="invalid"):
        super().__init__(message)
        self.kind = kind


def peer_common_name(writer):
    """Common name of the client certificate on a TLS stream (None without one)."""
    cert = writer.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


class Hub:
    def __init__(self, store, auth="token", self_register=True, host="127.0.0.1",
                 extensions=(), single_alias_poll=False):
        self.store = store
        self.extensions = check_extensions(extensions)
        # the HTTP doc's "only one resource may be read at a time when using long
        # polling", which murano-client does not keep to: off unless asked for
        self.single_alias_poll = single_alias_poll
        self.auth = auth
        self.self_register = self_register
        self.host = host
        self.ports = {}
        self.sessions = {}  # device id -> set of MQTT sessions
        self.waiters = {}  # device id -> set of (aliases, future)
        self.mqtt_sessions = {}  # (device id, client id) -> stored session state
        self.messages = {}  # device id -> [(ts_us, topic, payload)] custom topics
        self.closing = False
        self.public_host = None  # host name put in content download links
        self._secret = store.url_secret().encode()

    # -- identities -----------------------------------------------------------
    def check_id(self, device_id):
        if not ID_PATTERN.match(device_id or ""):
            raise Refused("invalid device id %r" % (device_id,))

    def may_register(self, device_id):
        """Raise Refused unless device_id may be provisioned now."""
        self.check_id(device_id)
        dev = self.store.device(device_id)
        if dev is not None and dev["provisioned_us"] is not None:
            raise Refused("device %s is already provisioned" % device_id, "exists")
        if dev is not None and dev["whitelisted"]:
            return
        if not self.self_register:
            raise Refused("device %s is not whitelisted (self-registration is off)" % device_id,
                          "not_whitelisted")

    def provision_token(self, device_id):
        self.may_register(device_id)
        token = store_mod.new_token()
        if not self.store.provision(device_id, "token", token):
            raise Refused("device %s is already provisioned" % device_id, "exists")
        LOG.info("provisioned %s (token)", device_id)
        return token

    def provision_password(self, device_id, password):
        self.may_register(device_id)
        if len(password) < 20:
            raise Refused("password for %s shorter than 20 characters" % device_id)
        if not self.store.provision(device_id, "password", password):
            raise Refused("device %s is already provisioned" % device_id, "exists")
        LOG.info("provisioned %s (password)", device_id)

    def provision_cert(self, device_id):
        """Certificate identities provision themselves on first connection."""
        dev = self.store.device(device_id)
        if dev is not None and dev["provisioned_us"] is not None:
            if dev["auth"] != "cert":
                raise Refused("device %s is provisioned with %s auth" % (device_id, dev["auth"]),
                              "mismatch")
            return
        self.may_register(device_id)
        self.store.provision(device_id, "cert")
        LOG.info("provisioned %s (certificate)", device_id)

    def token_device(self, token):
        if not token:
            return None
        return self.store.device_for_token(token)

    def password_ok(self, device_id, password):
        return bool(device_id) and bool(password) and self.store.check_password(device_id, password)

    # -- resources --------------------------------------------------------------
    def check_values(self, values):
        for alias, value in values.items():
            if not isinstance(alias, str) or not alias or "/" in alias:
                raise ValueError("invalid resource alias %r" % (alias,))
            if len(value.encode("utf-8")) > MAX_RESOURCE:
                raise ValueError(
                    "resource %s value exceeds %d bytes" % (alias, MAX_RESOURCE)
                )

    def device_write(self, device_id, values):
        self.check_values(values)
        return self.store.write(device_id, values, "device")

    def device_record(self, device_id, records):
        for _ts, values in records:
            self.check_values(values)
        self.store.write_many(device_id, records, "device")

    def record_conflicts(self, device_id, points):
        """[(alias, ts_us)] -> the ones that already hold a point, or come twice,
        in request order."""
        seen = set()
        out = []
        for key in points:
            if key in seen or self.store.has_point(device_id, key[0], key[1]):
                if key not in out:
                    out.append(key)
            seen.add(key)
        return out

    def cloud_set(self, device_id, alias, value):
        """A change made on the ExoSense side: store, push over MQTT, release long-polls."""
        self.check_values({alias: value})
        ts = self.store.write(device_id, {alias: value}, "cloud")[alias]
        for session in list(self.sessions.get(device_id, ())):
            session.push(alias, value, ts)
        for entry in list(self.waiters.get(device_id, ())):
            aliases, fut = entry
            if alias in aliases and not fut.done():
                fut.set_result((alias, value, ts))
        return ts

    def ext(self, name):
        """True when the named extension (see EXTENSIONS) is switched on."""
        return name in self.extensions

    def changed_since(self, device_id, aliases, since_s):
        """Long-poll If-Modified-Since: [(alias, value, ts_us)] of the aliases whose
        latest ExoSense-side value was set after since_s, oldest first.

        One-second resolution, as Last-Modified and If-Modified-Since have: a
        value set at 100.4 s is not "modified since 100". Whether the device wrote
        it back plays no part (that is the poll_unacked extension)."""
        out = []
        for alias in aliases:
            cloud = self.store.latest(device_id, alias, "cloud")
            if cloud is not None and cloud[0] // 1000000 > since_s:
                out.append((alias, cloud[1], cloud[0]))
        out.sort(key=lambda x: x[2])
        return out

    def pending(self, device_id, alias):
        """The last ExoSense-side value the device has not written back since."""
        cloud = self.store.latest(device_id, alias, "cloud")
        if cloud is None:
            return None
        dev = self.store.latest(device_id, alias, "device")
        if dev is not None and dev[0] > cloud[0]:
            return None
        return cloud

    def pending_all(self, device_id):
        out = []
        for alias in self.store.aliases(device_id):
            p = self.pending(device_id, alias)
            if p is not None:
                out.append((alias, p[1], p[0]))
        out.sort(key=lambda x: x[2])
        return out

    async def wait_cloud_set(self, device_id, aliases, timeout):
        fut = asyncio.get_running_loop().create_future()
        entry = (frozenset(aliases), fut)
        self.waiters.setdefault(device_id, set()).add(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            ws = self.waiters.get(device_id)
            if ws is not None:
                ws.discard(entry)
                if not ws:
                    del self.waiters[device_id]

    # -- MQTT session registry ---------------------------------------------------
    def attach(self, session):
        self.sessions.setdefault(session.device_id, set()).add(session)

    def detach(self, session):
        s = self.sessions.get(session.device_id)
        if s is not None:
            s.discard(session)
            if not s:
                del self.sessions[session.device_id]

    def connected(self, device_id):
        return len(self.sessions.get(device_id, ()))

    def custom_message(self, device_id, topic, payload):
        box = self.messages.setdefault(device_id, [])
        box.append((store_mod.now_us(), topic, payload))
        del box[:-100]

    def publish_custom(self, device_id, topic, payload):
        n = 0
        for session in list(self.sessions.get(device_id, ())):
            if session.deliver_custom(topic, payload):
                n += 1
        return n

    # -- content ------------------------------------------------------------------
    def base_url(self):
        host = self.public_host or self.host
        if host in ("0.0.0.0", "::", ""):
            host = "localhost"
        if self.ports.get("https"):
            return "https://%s:%d" % (host, self.ports["https"])
        if self.ports.get("http"):
            return "http://%s:%d" % (host, self.ports["http"])
        return ""

    def _sign(self, name, expires):
        msg = ("%s\n%d" % (name, expires)).encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def content_url(self, name, lifetime_s=3600):
        expires = int(time.time()) + lifetime_s
        return "%s/content/%s?expires=%d&sig=%s" % (
            self.base_url(), urllib.parse.quote(name, safe=""), expires, self._sign(name, expires)
        )

    def check_content_sig(self, name, expires, sig):
        try:
            expires = int(expires)
        except (TypeError, ValueError):
            return False
        if expires < time.time():
            return False
        return hmac.compare_digest(self._sign(name, expires), sig or "")

    def content_listing(self):
        return [
            {"name": c["name"], "length": c["length"], "mime": c["mime"],
             "url": self.content_url(c["name"])}
            for c in self.store.content_list()
        ]

    def content_listing_json(self):
        return json.dumps(self.content_listing())
