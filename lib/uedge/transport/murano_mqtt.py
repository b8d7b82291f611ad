"""Murano IoT Connector device API over MQTT (the topics of the Device MQTT API).
Usage: docs/mqtt.md (poll() never blocks once connected; on_update, on_ack).

Auth table (from the API):         ClientID   Username   Password
    token                          empty      empty      token from $provision/<id>
    password                       empty      device id  the >= 20 char password
    cert (TLS client certificate)  empty      -          -
"""

from uedge.compat import MICROPYTHON, Clock, json, release
from uedge.transport.mqtt_batch import batch_payload  # noqa: F401  (re-exported)
from uedge.transport.link import DEFAULT_MAX_UPDATE, AuthError, DeviceLink, MuranoError, reason_of
from uedge.transport.mqtt_client import MQTTClient
from uedge.transport.net import MQTTAuthError, MQTTException

RESOURCE_PREFIX = b"$resource/"


def parse_update_topic(topic):
    """b"$resource/<alias>/<timestamp>" -> (alias, ts_us), else None.

    A bare "$resource/<alias>" (no timestamp) is not an update from Murano: a
    plain broker echoes our own publishes that way, so it is ignored.
    """
    if not topic.startswith(RESOURCE_PREFIX):
        return None
    rest = topic[len(RESOURCE_PREFIX) :]
    i = rest.find(b"/")
    if i <= 0:
        return None
    ts = rest[i + 1 :]
    if not ts or not ts.isdigit():
        return None
    return rest[:i].decode(), int(ts)


class MuranoMQTT(DeviceLink):
    def __init__(
        self,
        host,
        port=None,
        device_id=None,
        auth="token",
        credentials_path=None,
        ca=None,
        cert=None,
        key=None,
        tls=True,
        keepalive=60,
        password=None,
        server_hostname=None,
        clock=None,
        backoff_base_ms=1000,
        backoff_cap_ms=300000,
        auth_backoff_ms=30000,
        timeout_ms=10000,
        max_packet=None,
        subscribe=("$resource/#",),
        log=None,
        batch_buffer=0,
    ):
        DeviceLink.__init__(
            self, "mqtt", host, port or (8883 if tls else 1883), device_id, auth, credentials_path, tls, ca, cert,
            key, server_hostname, clock, backoff_base_ms, backoff_cap_ms, auth_backoff_ms, timeout_ms, log,
            password=password)
        self.keepalive = keepalive
        # the topic and length header come on top of the resource value
        self.max_packet = DEFAULT_MAX_UPDATE + 1024 if max_packet is None else max_packet
        self.subscriptions = subscribe
        # batch_buffer: a buffer taken now, while a board's heap is whole, for replay
        # batches (MicroPython); one too large or sent while it is unacked gets its own.
        # A connect gives it up for its TLS handshake and takes it again after (_rebatch).
        self._batch_n = batch_buffer if MICROPYTHON else 0
        self._batch_buf = bytearray(batch_buffer) if self._batch_n else None
        self._batch_pid = 0
        if auth == "password" and password:
            self._password_wanted = password
            self._secret = self._secret or password
        else:
            self._password_wanted = None
        self._rt = Clock()  # real time for blocking waits (provisioning, content list)
        self.on_content = None
        self._client = None
        self._topics = {}
        self._content = None
        self._content_subscribed = False
        self._pw_tried = False

    def __repr__(self):
        return "<MuranoMQTT %s:%d id=%s auth=%s connected=%s>" % (
            self.host, self.port, self.device_id, self.auth, self.connected)

    # -- state

    @property
    def connected(self):
        return self._client is not None and self._client.connected

    def _new_client(self, user=None, password=None, keepalive=None):
        return MQTTClient("", self.host, self.port, user=user, password=password,
                          keepalive=self.keepalive if keepalive is None else keepalive, ssl=self.tls,
                          ssl_params=self._ssl_params, max_packet=self.max_packet, timeout_ms=self.timeout_ms,
                          clock=self.clock)

    # -- provisioning (uedge.transport.mqtt_provision: loaded for it, released after)

    def provision(self, timeout_ms=None):
        """Provision this device id on the connector (token/password auth).

        token: anonymous connect, empty publish to $provision/<id>, the token
        arrives on $provision/<id> and is saved (0600) to credentials_path.
        password: the password is the payload; nothing comes back.
        cert: nothing to do; the first TLS connection provisions.
        Blocks up to timeout_ms. Raises MuranoError on failure.
        """
        if self.auth == "cert" or (self._secret and self.auth == "token"):
            return True
        from uedge.transport import mqtt_provision

        try:
            return mqtt_provision.provision(self, self.timeout_ms if timeout_ms is None else timeout_ms)
        finally:
            release("uedge.transport.mqtt_provision")

    # -- connection

    def _credentials(self):
        if self.auth == "token":
            return "", self._secret
        if self.auth == "password":
            return self.device_id, self._secret
        return None, None

    def connect(self):
        """Connect now (provisioning first if needed). Raises AuthError/MuranoError.

        Password auth with a password given (or stored) but not provisioned
        here yet: a refused connection provisions it ($provision/<id>, the
        password as payload) once and connects again; an identity already
        provisioned with another password stays refused (AuthError)."""
        self._want = True
        if not self.provisioned:
            self.provision()
        try:
            return self._connect()
        except AuthError:
            if self.auth != "password" or self._pw_tried:
                raise
            self._pw_tried = True
            self._note("password refused: provisioning %s with it" % self.device_id)
            try:
                self.provision()
            except MuranoError as e:  # e.g. provisioned already, with another password
                raise AuthError("not authorized, and provisioning the password failed: %s" % e) from None
            return self._connect()

    def _connect(self):
        if self._client is not None:
            self._client.close()
        user, pw = self._credentials()
        old = self._client
        c = self._new_client(user, pw)
        if old is not None:
            # Messages unacknowledged when the link dropped are not re-sent by
            # the link: the owner learnt of the loss from on_state(False) and
            # re-sends what it still wants (the Edge re-queues them), so each
            # goes out again once. Packet ids go on from the old session.
            old.forget_pending()
            c.resume_pids(old)
            # the old client's buffers are garbage before the handshake, not after it
            self._client = old = None
        self._batch_buf = None  # its block is free for the handshake (taken again by _rebatch)
        c.set_callback(self._on_msg)
        c.on_puback = self._on_puback
        c.on_oversize = self._on_oversize
        self.attempts += 1
        try:
            c.connect(clean_session=True)
            for t in self.subscriptions:
                try:
                    c.subscribe(t)
                except MQTTException as e:
                    if not c.connected:
                        raise
                    self._note("subscription %s refused: %s" % (t, e))
        except MemoryError:
            # e.g. no room to load mqtt_session after the handshake: the
            # session goes now (the link backs off, DeviceLink._reconnect)
            self._client = c
            c.close()
            raise
        except MQTTAuthError:
            self._client = c
            c.close()
            self.last_error = "not authorized"
            raise AuthError("not authorized (%s auth, device %s)" % (self.auth, self.device_id)) from None
        except (MQTTException, OSError, ValueError) as e:
            # ValueError/UnicodeError: a host name that cannot be encoded (IDNA)
            self._client = c
            c.close()
            self.last_error = reason_of(e)
            raise MuranoError("connect to %s:%d failed: %s" % (self.host, self.port, self.last_error)) from None
        self._client = c
        self._content_subscribed = False
        self._pw_tried = True  # the password works: never provision it again
        self._rebatch()
        self._up()
        return True

    def _rebatch(self):
        """The replay batch buffer again, once the handshake has given back its
        pieces; without room for it, each batch gets a buffer of its own."""
        if self._batch_n and self._batch_buf is None:
            try:
                self._batch_buf = bytearray(self._batch_n)
            except MemoryError:
                pass  # stays None: record() gives each batch its own buffer

    def close(self):
        self._want = False
        if self._client is not None:
            was = self._client.connected
            self._client.disconnect()
            if was:
                self._state(False, "closed")

    def poll(self, now_ms=None):
        """Keepalive, incoming updates, acks, reconnect with backoff. Never blocks
        while connected; a reconnect attempt blocks for at most timeout_ms.
        Nothing while gate() says the network is down."""
        g = self.gate
        if g is not None and not g():
            return
        now = self.clock.now_ms() if now_ms is None else now_ms
        c = self._client
        if c is not None and c.connected:
            self._stable(now)
            try:
                c.poll(now)
            except (MQTTException, OSError, MemoryError) as e:
                c.close()
                self.last_error = reason_of(e)
                self.retry_after(now)
                self._note("connection lost: %s" % self.last_error)
                self._state(False, self.last_error)
            return
        self._reconnect(now)

    # -- data

    def _topic(self, alias):
        t = self._topics.get(alias)
        if t is None:
            t = ("$resource/" + alias).encode()
            self._topics[alias] = t
        return t

    def _publish(self, topic, payload, qos=1):
        c = self._client
        if c is None or not c.connected:
            raise MuranoError("not connected")
        try:
            return c.publish(topic, payload, qos=qos)
        except (MQTTException, OSError) as e:
            if not c.connected:
                self._state(False, reason_of(e))
            raise MuranoError("publish failed: %s" % reason_of(e)) from None

    def write(self, alias, value_str):
        """Set one resource ($resource/<alias>, QoS 1). Returns the msg id for on_ack."""
        return self._publish(self._topic(alias), value_str)

    def write_many(self, values):
        """Set several resources at once ($resource/ with a JSON object)."""
        return self._publish(b"$resource/", json.dumps(values))

    def record(self, entries):
        """Historical values: [(ts_us, {alias: value_str}), ...] on $resource.batch."""
        buf = self._batch_buf if len(entries) > 1 else None
        if buf is not None and self._batch_pid in (self._client.pending_pids() if self._client else ()):
            buf = None  # the last batch is still held for a retransmission
        pid = self._publish(b"$resource.batch", batch_payload(entries, buf))
        self._batch_pid = pid if buf is not None else self._batch_pid
        return pid

    def sockets(self):
        """The live socket(s), for a host loop that waits in select()."""
        c = self._client
        return [c.sock] if c is not None and c.sock is not None else []

    def ready_to_send(self):
        """True when queued writes wait only for the loop (never for MQTT: publish sends at once)."""
        return False

    def pending(self):
        return self._client.pending() if self._client is not None else 0

    def receiving(self):
        """True while an incoming packet has arrived only in part."""
        return self._client is not None and self._client.receiving()

    def _on_puback(self, pid):
        if self.on_ack:
            self.on_ack(pid)

    def _on_oversize(self, topic, size):
        u = parse_update_topic(topic)
        alias = u[0] if u is not None else topic.decode()
        self._update_error(alias, "update of %d bytes exceeds the device's limit of %d" % (size, self.max_packet))

    def _on_msg(self, topic, msg):
        u = parse_update_topic(topic)
        if u is not None:
            if self.on_update:
                self.on_update(u[0], msg.decode(), u[1])
            return
        if topic == b"$content":
            if not msg:
                return  # our own request echoed by a plain broker
            try:
                self._content = json.loads(msg)
            except ValueError:
                self._note("bad $content reply ignored")
                return
            if self.on_content:
                self.on_content(self._content)

    # -- content (uedge.transport.mqtt_content: only OTA checks list or fetch content)

    def content_list(self, timeout_ms=None):
        """Ask $content for the list of downloadable items -> [{name,length,mime,url}]."""
        from uedge.transport.mqtt_content import content_list

        return content_list(self, timeout_ms)

    def content_get(self, name, sink_write, timeout_ms=None):
        """Download a content item (by its listed url) into sink_write(bytes)."""
        from uedge.transport.mqtt_content import content_get

        return content_get(self, name, sink_write, timeout_ms)
