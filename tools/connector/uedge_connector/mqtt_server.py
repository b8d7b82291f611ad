"""Murano-flavoured MQTT 3.1.1 endpoint (plain and TLS).

Follows the Murano Device MQTT API rules: per-device topic isolation, anonymous
clients limited to provisioning, QoS 2 downgraded to QoS 0, retain ignored,
PUBREC/PUBREL/PUBCOMP and DUP+QoS0 answered by a disconnect, resource updates
pushed as QoS 0 PUBLISH on $resource/<alias>/<timestamp_us>.
"""

import asyncio
import logging
import time

from . import mqtt_codec as mc
from .hub import Refused, peer_common_name
from .mqtt_topics import DeviceTopics, Disconnect

LOG = logging.getLogger("uedge_connector.mqtt")

MAX_PACKET = 16 * 1024 * 1024 + 1024
MAX_CONNECT = 2 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
SESSION_MAX_AGE_S = 24 * 3600
WRITE_BUFFER_LIMIT = 8 * 1024 * 1024
RESERVED_SUBS = ("$resource/#", "$resource/+", "$resource.batch", "$content")


class MQTTSession(DeviceTopics):
    def __init__(self, hub, reader, writer, tls):
        self.hub = hub
        self.reader = reader
        self.writer = writer
        self.tls = tls
        self.device_id = None
        self.client_id = ""
        self.subs = set()
        self.will = None
        self.clean = True
        self.peer = writer.get_extra_info("peername")
        self.closing = False

    # -- output -------------------------------------------------------------------
    def send(self, data):
        if self.closing or self.writer.is_closing():
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            LOG.warning("%s: not reading its messages; disconnecting", self.name())
            self.close()

    def push(self, alias, value, ts_us):
        self.send(mc.publish("$resource/%s/%d" % (alias, ts_us), value))

    def deliver_custom(self, topic, payload):
        for f in self.subs:
            if mc.topic_matches(f, topic):
                self.send(mc.publish(topic, payload))
                return True
        return False

    def close(self):
        self.closing = True
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001
            pass

    def name(self):
        if self.device_id:
            return self.device_id
        return "anonymous client %s" % (self.peer,)

    # -- main loop ----------------------------------------------------------------
    async def run(self):
        clean_exit = False
        attached = False
        try:
            ptype, flags, body = await asyncio.wait_for(
                mc.read_packet(self.reader, MAX_CONNECT, mc.CONNECT), CONNECT_TIMEOUT
            )
            conn = mc.parse_connect(body)
            if conn.protocol not in ("MQTT", "MQIsdp") or conn.level not in (3, 4):
                self.send(mc.connack(False, mc.BAD_PROTOCOL))
                raise Disconnect("unsupported protocol %r level %d" % (conn.protocol, conn.level))
            code = self.authenticate(conn)
            if code != mc.ACCEPTED:
                self.send(mc.connack(False, code))
                await self.writer.drain()
                raise Disconnect("CONNACK refused with code %d" % code)
            present = self.open_session(conn)
            self.send(mc.connack(present, mc.ACCEPTED))
            if self.device_id is not None:
                self.hub.attach(self)
                attached = True
                if self.hub.ext("resend_on_connect"):
                    # extension: the seed promises a PUBLISH on a state change only,
                    # nothing for changes made while the device was away
                    for alias, value, ts in self.hub.pending_all(self.device_id):
                        self.push(alias, value, ts)
            timeout = conn.keepalive * 1.5 if conn.keepalive else None
            while not self.closing:
                ptype, flags, body = await asyncio.wait_for(
                    mc.read_packet(self.reader, MAX_PACKET), timeout
                )
                if ptype == mc.DISCONNECT:
                    clean_exit = True
                    break
                self.handle(ptype, flags, body)
                await self.writer.drain()
        except asyncio.TimeoutError:
            LOG.info("%s: keepalive expired, disconnecting", self.name())
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except mc.ProtocolError as e:
            LOG.warning("%s: protocol error: %s", self.name(), e)
        except Disconnect as e:
            LOG.info("%s: disconnected: %s", self.name(), e)
        except Exception:  # noqa: BLE001 - one bad connection must not stop the server
            LOG.exception("%s: unexpected error", self.name())
        finally:
            if attached:
                self.hub.detach(self)
            self.save_session()
            if (not clean_exit and self.will is not None and self.device_id is not None
                    and not self.hub.closing):
                topic, payload = self.will
                try:
                    self.device_publish(topic, payload)
                except Exception as e:  # noqa: BLE001
                    LOG.warning("%s: will message dropped: %s", self.name(), e)
            self.closing = True
            await mc.close_writer(self.writer)

    # -- CONNECT ------------------------------------------------------------------
    def authenticate(self, conn):
        hub = self.hub
        user = conn.username or ""
        pw = conn.password.decode("utf-8", "replace") if conn.password else ""
        cid = conn.client_id
        if not cid and not conn.clean:
            return mc.ID_REJECTED
        if hub.auth == "cert":
            cn = peer_common_name(self.writer)
            if not cn:
                return mc.NOT_AUTHORIZED
            if cid:
                return mc.ID_REJECTED  # "The ClientID must always be set as empty."
            if user and user != cn:
                return mc.NOT_AUTHORIZED
            try:
                hub.provision_cert(cn)
            except Refused as e:
                LOG.info("certificate %s refused: %s", cn, e)
                return mc.NOT_AUTHORIZED
            self.device_id = cn
        elif not pw:
            self.device_id = None  # anonymous: provisioning only
        elif hub.auth == "token":
            dev = hub.token_device(pw)
            if dev is None or (user and user != dev):
                return mc.NOT_AUTHORIZED
            if cid and cid != dev:
                return mc.ID_REJECTED
            self.device_id = dev
        else:  # password
            if not hub.password_ok(user, pw):
                return mc.NOT_AUTHORIZED
            if cid and cid != user:
                return mc.ID_REJECTED
            self.device_id = user
        self.client_id = cid
        self.clean = conn.clean
        if conn.will_topic is not None:
            # Will QoS is forced to 0 and Will Retain ignored.
            self.will = (conn.will_topic, conn.will_message)
        return mc.ACCEPTED

    def open_session(self, conn):
        """Clean-session handling for (device, client id); returns session_present."""
        if self.device_id is None or not self.client_id:
            return False
        hub = self.hub
        key = (self.device_id, self.client_id)
        inherited = None
        for other in list(hub.sessions.get(self.device_id, ())):
            if other.client_id == self.client_id:
                LOG.info("%s: client id %s taken over by a new connection",
                         self.device_id, self.client_id)
                if not self.clean and not other.clean:
                    inherited = set(other.subs)
                other.clean = True  # the live session moves here; the old one saves nothing
                other.close()
        now = time.time()
        for k in list(hub.mqtt_sessions):
            if k[0] != self.device_id or k == key:
                continue
            if not self.clean or now - hub.mqtt_sessions[k]["saved"] > SESSION_MAX_AGE_S:
                del hub.mqtt_sessions[k]
        stored = hub.mqtt_sessions.pop(key, None)
        if inherited is not None:
            stored = {"subs": inherited}
        if self.clean or stored is None:
            return False
        self.subs = set(stored["subs"])
        return True

    def save_session(self):
        if self.device_id is None or not self.client_id or self.clean:
            return
        self.hub.mqtt_sessions[(self.device_id, self.client_id)] = {
            "subs": set(self.subs), "saved": time.time()
        }

    # -- packets ------------------------------------------------------------------
    def handle(self, ptype, flags, body):
        if ptype == mc.PUBLISH:
            self.on_publish(flags, body)
        elif ptype == mc.SUBSCRIBE:
            if flags != 2:
                raise mc.ProtocolError("SUBSCRIBE with flags %d" % flags)
            pid, filters = mc.parse_subscribe(body)
            codes = [0 if self.may_subscribe(f) else 0x80 for f, _qos in filters]
            for (f, _qos), code in zip(filters, codes):
                if code == 0 and not f.startswith("$"):
                    self.subs.add(f)
            self.send(mc.suback(pid, codes))
        elif ptype == mc.UNSUBSCRIBE:
            if flags != 2:
                raise mc.ProtocolError("UNSUBSCRIBE with flags %d" % flags)
            pid, filters = mc.parse_unsubscribe(body)
            for f in filters:
                self.subs.discard(f)  # reserved topics keep flowing regardless
            self.send(mc.unsuback(pid))
        elif ptype == mc.PINGREQ:
            self.send(mc.pingresp())
        elif ptype == mc.PUBACK:
            pass  # nothing is sent with QoS 1, so nothing to track
        elif ptype in (mc.PUBREC, mc.PUBREL, mc.PUBCOMP):
            raise Disconnect("sent %s (QoS 2 flow is not supported)" % mc.NAMES[ptype])
        else:
            raise Disconnect("unexpected %s" % mc.NAMES.get(ptype, "packet type %d" % ptype))

    def may_subscribe(self, f):
        if not mc.valid_filter(f):
            return False
        if self.device_id is None:
            return f.startswith("$provision/") and self.hub_id_ok(f[len("$provision/"):])
        if f.startswith("$provision/"):
            return f[len("$provision/"):] == self.device_id
        if f in RESERVED_SUBS:
            return True
        if f.startswith("$resource/"):
            # "$resource/{alias}": one level, a plain alias (the seed's list)
            alias = f[len("$resource/"):]
            return bool(alias) and "/" not in alias and "+" not in alias and "#" not in alias
        return not f.startswith("$")

    def hub_id_ok(self, device_id):
        try:
            self.hub.check_id(device_id)
            return True
        except Refused:
            return False

    def on_publish(self, flags, body):
        topic, qos, dup, _retain, pid, payload = mc.parse_publish(flags, body)
        if qos == 3:
            raise mc.ProtocolError("PUBLISH with QoS 3")
        if dup and qos == 0:
            raise Disconnect("PUBLISH with DUP=1 and QoS 0")
        if "+" in topic or "#" in topic or not topic:
            raise mc.ProtocolError("invalid topic name %r" % topic)
        if qos == 2:
            qos = 0  # Murano acts as if QoS 0 was requested: no PUBREC
        if self.device_id is None:
            self.anonymous_publish(topic, payload, qos, pid)
            return
        self.device_publish(topic, payload)
        if qos == 1:
            self.send(mc.puback(pid))

    def anonymous_publish(self, topic, payload, qos, pid):
        if not topic.startswith("$provision/"):
            raise Disconnect("anonymous client may only publish to $provision/<id>, not %s" % topic)
        device_id = topic[len("$provision/"):]
        hub = self.hub
        try:
            if hub.auth == "token":
                token = hub.provision_token(device_id)
            elif hub.auth == "password":
                if self.client_id:
                    raise Refused("the ClientID must be empty while provisioning (password"
                                  " auth), not %r" % self.client_id)
                hub.provision_password(device_id, payload.decode("utf-8", "replace"))
                token = None
            else:
                raise Refused("this connector uses certificate authentication")
        except Refused as e:
            raise Disconnect("provisioning refused: %s" % e) from None
        if qos == 1:
            self.send(mc.puback(pid))
        if token is not None:
            self.send(mc.publish(topic, token))


class MQTTServer:
    def __init__(self, hub):
        self.hub = hub
        self.connections = set()

    async def _client(self, reader, writer, tls):
        session = MQTTSession(self.hub, reader, writer, tls)
        task = asyncio.current_task()
        self.connections.add(task)
        try:
            await session.run()
        finally:
            self.connections.discard(task)

    async def start(self, host, port, ssl_context=None):
        tls = ssl_context is not None

        async def cb(reader, writer):
            await self._client(reader, writer, tls)

        return await asyncio.start_server(cb, host, port, ssl=ssl_context,
                                          ssl_handshake_timeout=10 if tls else None)
