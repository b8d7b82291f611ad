"""MQTT 3.1.1 client with umqtt.simple's interface, plus non-blocking polling.

One class, direct socket I/O. What it adds over umqtt.simple:
- poll(): processes whatever is readable and returns at once (socket timeout 0),
  sends keepalive PINGREQs and re-sends unacknowledged QoS 1 publishes (DUP).
- publish(qos=1) does not wait for PUBACK: it returns the packet id and
  on_puback(pid) fires when the broker acknowledges it.
- TLS with CA verification, SNI and client certificates on CPython and MicroPython.
- One fixed receive buffer (max_packet bytes) and memoryview framing: incoming
  packets never grow it. A PUBLISH larger than max_packet is read and thrown
  away in buffer-sized pieces (acknowledged if QoS 1) and reported through
  on_oversize(topic, size); the connection stays up. Any other packet larger
  than max_packet is a protocol error.

Packet encoders/decoders are module-level functions so they can be tested alone.
"""

import select
import socket

from uedge.compat import MICROPYTHON, Clock

try:
    import errno

    _EAGAIN = (errno.EAGAIN, getattr(errno, "EWOULDBLOCK", errno.EAGAIN), errno.EINPROGRESS)
except ImportError:  # pragma: no cover
    _EAGAIN = (11, 115)

# Packet types (high nibble of the fixed header)
CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82
SUBACK = 0x90
UNSUBSCRIBE = 0xA2
UNSUBACK = 0xB0
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

MAX_REMAINING = 268435455  # largest value the 4-byte varint can carry

CONNACK_ERRORS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "not authorized (bad user name or password)",
    5: "not authorized",
}


class MQTTException(Exception):
    pass


class MQTTAuthError(MQTTException):
    """CONNACK return code 4 or 5: the credentials were refused."""


def _b(x):
    """bytes-like view of x without copying where the runtime allows it."""
    if isinstance(x, str):
        return memoryview(x) if MICROPYTHON else x.encode()
    return x


# ---------------------------------------------------------------- encoding


def encode_varint(n, buf, off):
    """Write MQTT remaining length n into buf at off; return the new offset."""
    if n < 0 or n > MAX_REMAINING:
        raise MQTTException("remaining length %d out of range" % n)
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            buf[off] = byte | 0x80
            off += 1
        else:
            buf[off] = byte
            return off + 1


def varint_size(n):
    if n < 128:
        return 1
    if n < 16384:
        return 2
    if n < 2097152:
        return 3
    return 4


def decode_varint(buf, off, end):
    """Decode a remaining length at buf[off:end].

    Returns (value, offset after it), or None when more bytes are needed.
    Raises MQTTException on a malformed (more than 4 bytes) length.
    """
    value = 0
    shift = 0
    i = off
    while i < end:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i += 1
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift >= 28:
            raise MQTTException("malformed remaining length (more than 4 bytes)")
    return None


def _put_str(buf, off, data):
    n = len(data)
    buf[off] = n >> 8
    buf[off + 1] = n & 0xFF
    buf[off + 2 : off + 2 + n] = data
    return off + 2 + n


def connect_packet(client_id, user=None, password=None, keepalive=0, clean_session=True, will=None):
    """Build a CONNECT packet. will = (topic, msg, retain, qos) or None."""
    cid = _bytes(client_id)
    flags = 0x02 if clean_session else 0
    rem = 10 + 2 + len(cid)
    if will:
        wt, wm = _bytes(will[0]), _bytes(will[1])
        flags |= 0x04 | ((will[3] & 3) << 3) | (0x20 if will[2] else 0)
        rem += 4 + len(wt) + len(wm)
    if user is not None:
        u = _bytes(user)
        flags |= 0x80
        rem += 2 + len(u)
    if password is not None:
        if user is None:
            raise MQTTException("a password needs a user name (may be empty) in MQTT 3.1.1")
        p = _bytes(password)
        flags |= 0x40
        rem += 2 + len(p)
    pkt = bytearray(1 + varint_size(rem) + rem)
    pkt[0] = CONNECT
    off = encode_varint(rem, pkt, 1)
    off = _put_str(pkt, off, b"MQTT")
    pkt[off] = 4  # protocol level 3.1.1
    pkt[off + 1] = flags
    pkt[off + 2] = (keepalive >> 8) & 0xFF
    pkt[off + 3] = keepalive & 0xFF
    off = _put_str(pkt, off + 4, cid)
    if will:
        off = _put_str(pkt, off, wt)
        off = _put_str(pkt, off, wm)
    if user is not None:
        off = _put_str(pkt, off, u)
    if password is not None:
        off = _put_str(pkt, off, p)
    return pkt


def _bytes(x):
    if isinstance(x, str):
        return x.encode()
    return bytes(x)


def publish_header(buf, topic, msg_len, qos=0, retain=False, dup=False, pid=0):
    """Write a PUBLISH fixed header + topic (+ packet id) into buf; return its length.

    The payload (msg_len bytes) follows it on the wire.
    """
    if qos == 0 and dup:
        raise MQTTException("DUP must not be set on a QoS 0 publish")
    tlen = len(topic)
    rem = 2 + tlen + msg_len + (2 if qos else 0)
    buf[0] = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    off = encode_varint(rem, buf, 1)
    buf[off] = tlen >> 8
    buf[off + 1] = tlen & 0xFF
    off += 2
    buf[off : off + tlen] = topic
    off += tlen
    if qos:
        buf[off] = pid >> 8
        buf[off + 1] = pid & 0xFF
        off += 2
    return off


def publish_packet(topic, msg, qos=0, retain=False, dup=False, pid=0):
    topic = _bytes(topic)
    msg = _bytes(msg)
    hdr = bytearray(9 + len(topic))
    n = publish_header(hdr, topic, len(msg), qos, retain, dup, pid)
    return bytes(hdr[:n]) + msg


def subscribe_packet(pid, topic, qos=0):
    t = _bytes(topic)
    rem = 2 + 2 + len(t) + 1
    pkt = bytearray(1 + varint_size(rem) + rem)
    pkt[0] = SUBSCRIBE
    off = encode_varint(rem, pkt, 1)
    pkt[off] = pid >> 8
    pkt[off + 1] = pid & 0xFF
    off = _put_str(pkt, off + 2, t)
    pkt[off] = qos
    return pkt


def parse_publish(flags, body):
    """Decode a PUBLISH variable header + payload (body = bytes after the length).

    Returns (topic_bytes, msg_bytes, qos, pid, dup, retain).
    """
    if len(body) < 2:
        raise MQTTException("PUBLISH too short")
    tlen = (body[0] << 8) | body[1]
    qos = (flags >> 1) & 3
    if qos == 3:
        raise MQTTException("PUBLISH with invalid QoS 3")
    off = 2 + tlen
    if off > len(body):
        raise MQTTException("PUBLISH topic length %d exceeds packet" % tlen)
    topic = bytes(body[2:off])
    pid = 0
    if qos:
        if off + 2 > len(body):
            raise MQTTException("PUBLISH QoS %d without packet id" % qos)
        pid = (body[off] << 8) | body[off + 1]
        off += 2
    return topic, bytes(body[off:]), qos, pid, bool(flags & 8), bool(flags & 1)


def parse_suback(body):
    """Decode a SUBACK body -> (pid, [granted qos or 0x80 failure, ...])."""
    if len(body) < 3:
        raise MQTTException("SUBACK too short")
    return (body[0] << 8) | body[1], [body[i] for i in range(2, len(body))]


def parse_connack(body):
    """-> (session_present, return_code); raises on a bad length."""
    if len(body) != 2:
        raise MQTTException("CONNACK with length %d (expected 2)" % len(body))
    return bool(body[0] & 1), body[1]


def connack_error(rc):
    msg = CONNACK_ERRORS.get(rc, "refused with unknown return code")
    if rc in (4, 5):
        return MQTTAuthError("%s (CONNACK rc=%d)" % (msg, rc))
    return MQTTException("connection refused: %s (CONNACK rc=%d)" % (msg, rc))


# ---------------------------------------------------------------- transport


def _is_wouldblock(e):
    if e.__class__.__name__ in ("SSLWantReadError", "SSLWantWriteError", "BlockingIOError"):
        return True
    return bool(e.args) and e.args[0] in _EAGAIN


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def open_connection(host, port, use_ssl=False, ssl_params=None, timeout_s=10, nodelay=True):
    """TCP (+TLS) connection to host:port, blocking with timeout_s until established.

    ssl_params: ca (path) or cadata (PEM/DER bytes); cert + key (paths) for a
    client certificate; server_hostname (SNI + hostname check, default host);
    verify (default True; False only for debugging).
    """
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    if not ai:
        raise MQTTException("cannot resolve %s" % host)
    addr = ai[0][-1]
    sock = socket.socket(ai[0][0], socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(addr)
        if nodelay:
            try:
                sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: one packet per write
            except Exception:
                pass
        if use_ssl:
            try:
                sock = _wrap_tls(sock, host, ssl_params or {})
            except ValueError as e:
                if not MICROPYTHON:
                    raise
                # mbedtls reports verification failures as multi-line ValueErrors
                raise MQTTException("TLS handshake with %s failed: %s" % (host, " ".join(str(e).split()))) from None
            if not MICROPYTHON:
                sock.settimeout(timeout_s)
    except Exception:
        sock.close()
        raise
    return sock


def close_socket(sock):
    """Close sock (None is fine), ignoring errors; returns None: `s.sock = close_socket(s.sock)`."""
    if sock is not None:
        try:
            sock.close()
        except Exception:
            pass
    return None


def nonblocking_io(sock):
    """Make sock non-blocking -> (readinto, write) functions for this runtime."""
    if MICROPYTHON:
        sock.setblocking(False)
        return sock.readinto, sock.write
    sock.settimeout(0)
    return sock.recv_into, sock.send


def send_all(sock, write_fn, data, length, clock, timeout_ms, fail):
    """Write data[:length] (all of it when length < 0) to a non-blocking socket.

    write_fn comes from nonblocking_io(). Waits for room up to timeout_ms
    (measured on clock); a closed peer or the timeout raises fail(message),
    other socket errors propagate. On MicroPython the offset form of write()
    sends without making a slice object per call.
    """
    total = len(data) if length < 0 else length
    off = 0
    deadline = 0
    poller = None
    while off < total:
        try:
            if MICROPYTHON:
                n = write_fn(data, off, total - off)
            else:
                n = write_fn(memoryview(data)[off:total])
        except OSError as e:
            if not _is_wouldblock(e):
                raise
            n = None
        if n:
            off += n
            continue
        if n == 0 and not MICROPYTHON:
            raise fail("connection closed while sending")
        now = clock.now_ms()
        if not deadline:
            deadline = now + timeout_ms
        elif now >= deadline:
            raise fail("send timed out after %d ms" % timeout_ms)
        if poller is None:
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
        poller.poll(20)


def pem_to_der(data):
    """First PEM block of data as DER (MicroPython's mbedtls binding takes DER)."""
    import binascii

    if data[:5] != b"-----":
        return data
    body = []
    inside = False
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN"):
            inside = True
        elif line.startswith(b"-----END"):
            break
        elif inside and line:
            body.append(line)
    return binascii.a2b_base64(b"".join(body))


def _wrap_tls(sock, host, p):
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    verify = p.get("verify", True)
    hostname = p.get("server_hostname", host)
    if MICROPYTHON:
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    else:
        ctx.check_hostname = bool(verify)
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    cadata = p.get("cadata")
    if cadata is None and p.get("ca"):
        cadata = _read_file(p["ca"])
    if verify:
        if cadata is None:
            if MICROPYTHON:
                raise MQTTException("TLS needs a CA certificate (ssl_params ca= or cadata=)")
            ctx.load_default_certs()
        elif MICROPYTHON:
            ctx.load_verify_locations(cadata=pem_to_der(cadata))
        else:
            if isinstance(cadata, (bytes, bytearray)) and cadata[:5] == b"-----":
                cadata = cadata.decode()
            ctx.load_verify_locations(cadata=cadata)
    if p.get("cert"):
        if not p.get("key"):
            raise MQTTException("client certificate given without its key")
        if MICROPYTHON:
            ctx.load_cert_chain(pem_to_der(_read_file(p["cert"])), pem_to_der(_read_file(p["key"])))
        else:
            ctx.load_cert_chain(p["cert"], p["key"])
    return ctx.wrap_socket(sock, server_hostname=hostname)


# ---------------------------------------------------------------- client


class MQTTClient:
    def __init__(
        self,
        client_id,
        server,
        port=0,
        user=None,
        password=None,
        keepalive=0,
        ssl=False,
        ssl_params={},  # noqa: B006 (umqtt.simple signature; never mutated)
        max_packet=32768,
        max_inflight=16,
        retry_ms=10000,
        timeout_ms=10000,
        clock=None,
    ):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.ssl_params = ssl_params
        self.timeout_ms = timeout_ms
        self.retry_ms = retry_ms
        self.max_packet = max_packet
        self.sock = None
        self.connected = False
        self.cb = None
        self.on_puback = None
        self.on_oversize = None  # f(topic, size): a PUBLISH too large for max_packet was skipped
        self.lw = None
        self._clock = clock or Clock()  # keepalive and retry schedule (injectable)
        self._rt = Clock()  # real time for network timeouts: a fake clock must not hang I/O
        self._pid = 0
        # one receive buffer for the whole life of the client
        self._rx = bytearray(max_packet + 5)
        self._rxv = memoryview(self._rx)
        self._rx_len = 0
        self._p_start = 0
        self._p_end = 0
        self._skip = 0  # bytes of an oversized PUBLISH still to throw away
        self._skip_info = None  # (topic, qos, pid, size) of that PUBLISH
        self._tx = bytearray(512)
        self._pingbuf = bytes((PINGREQ, 0))
        self._ackbuf = bytearray(4)
        self._poller = None
        self._last_tx = 0
        self._last_rx = 0
        self._ping_out = 0  # time the unanswered PINGREQ was sent, 0 if none
        self._suback = {}
        # QoS 1 in-flight slots (parallel lists: no allocation per publish)
        self._n_slots = max_inflight
        self._if_pid = [0] * max_inflight
        self._if_topic = [None] * max_inflight
        self._if_msg = [None] * max_inflight
        self._if_retain = [False] * max_inflight
        self._if_time = [0] * max_inflight
        self._if_first = [0] * max_inflight  # first sent on this connection
        self._inflight = 0
        self._read = None
        self._write_fn = None

    # -- umqtt.simple interface

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw = (topic, msg, retain, qos)

    def connect(self, clean_session=True, timeout_ms=None):
        """Open the connection and wait for CONNACK. Returns the session-present flag."""
        self.close()
        tmo = self.timeout_ms if timeout_ms is None else timeout_ms
        self.sock = open_connection(
            self.server, self.port, self.ssl, self.ssl_params, timeout_s=tmo / 1000
        )
        self._setup_io()
        self._rx_len = 0
        self._skip = 0
        self._ping_out = 0
        try:
            pkt = connect_packet(
                self.client_id, self.user, self.pswd, self.keepalive, clean_session, self.lw
            )
            self._write(pkt)
            deadline = self._rt.now_ms() + tmo
            while True:
                ptype = self._next_packet()
                if ptype >= 0:
                    break
                # judge a wrong first byte now instead of waiting for its "length"
                if self._rx_len and self._rx[0] != CONNACK:
                    raise MQTTException("expected CONNACK, got byte 0x%02x (not an MQTT server?)" % self._rx[0])
                if self._rt.now_ms() >= deadline:
                    raise MQTTException("no CONNACK within %d ms" % tmo)
                self._wait_readable(deadline - self._rt.now_ms())
            if ptype != CONNACK:
                raise MQTTException("expected CONNACK, got packet type 0x%02x" % ptype)
            present, rc = parse_connack(self._rxv[self._p_start : self._p_end])
            self._consume(self._p_end)
            if rc:
                raise connack_error(rc)
        except Exception:
            self.close()
            raise
        self.connected = True
        now = self._clock.now_ms()
        self._last_rx = now
        # unacknowledged QoS 1 publishes go out again (at least once)
        for i in range(self._n_slots):
            if self._if_pid[i]:
                self._if_time[i] = now - self.retry_ms
                self._if_first[i] = now
        return present

    def disconnect(self):
        if self.sock is not None and self.connected:
            try:
                self._write(bytes((DISCONNECT, 0)))
            except Exception:
                pass
        self.close()

    def close(self):
        """Drop the socket without DISCONNECT (in-flight QoS 1 messages are kept)."""
        self.sock = close_socket(self.sock)
        self._poller = None
        self.connected = False
        self._rx_len = 0
        self._skip = 0

    def ping(self):
        self._write(self._pingbuf)
        if not self._ping_out:
            self._ping_out = self._clock.now_ms() or 1

    def publish(self, topic, msg, retain=False, qos=0):
        """Send a PUBLISH. QoS 1 returns the packet id (see on_puback); QoS 0 returns 0."""
        if qos not in (0, 1):
            raise MQTTException("QoS %r not supported (0 or 1)" % (qos,))
        if self.sock is None:
            raise MQTTException("not connected")
        topic = _b(topic)
        msg = _b(msg)
        pid = 0
        if qos:
            slot = self._free_slot()
            if slot < 0:
                raise MQTTException("%d QoS 1 messages unacknowledged; poll() and retry" % self._n_slots)
            pid = self._next_pid()
            self._if_pid[slot] = pid
            self._if_topic[slot] = topic
            self._if_msg[slot] = msg
            self._if_retain[slot] = retain
            self._if_time[slot] = self._if_first[slot] = self._clock.now_ms()
            self._inflight += 1
        self._send_publish(topic, msg, qos, retain, False, pid)
        return pid

    def subscribe(self, topic, qos=0, timeout_ms=None):
        """Subscribe and wait for SUBACK; raises MQTTException when refused."""
        if self.sock is None:
            raise MQTTException("not connected")
        pid = self._next_pid()
        self._write(subscribe_packet(pid, topic, qos))
        tmo = self.timeout_ms if timeout_ms is None else timeout_ms
        deadline = self._rt.now_ms() + tmo
        while pid not in self._suback:
            if self._rt.now_ms() >= deadline:
                raise MQTTException("no SUBACK for %r within %d ms" % (topic, tmo))
            if not self._process():
                self._wait_readable(deadline - self._rt.now_ms())
        codes = self._suback.pop(pid)
        if codes[0] == 0x80:
            raise MQTTException("subscription to %r refused (SUBACK failure)" % (topic,))
        return codes[0]

    def wait_msg(self, timeout_ms=None):
        """Block until one packet has been processed (or timeout_ms passed)."""
        deadline = None if timeout_ms is None else self._rt.now_ms() + timeout_ms
        while True:
            if self._process():
                return True
            left = -1 if deadline is None else deadline - self._rt.now_ms()
            if deadline is not None and left <= 0:
                return False
            self._wait_readable(left)

    def check_msg(self):
        """Process whatever is readable, without blocking."""
        return self.poll()

    # -- non-blocking extras

    def poll(self, now_ms=None):
        """Handle readable packets, keepalive and QoS 1 retries; never blocks.

        Returns the number of packets processed. Raises MQTTException/OSError
        when the connection is broken (the caller reconnects).
        """
        if self.sock is None:
            raise MQTTException("not connected")
        n = 0
        while n < 32 and self._process():
            n += 1
        now = self._clock.now_ms() if now_ms is None else now_ms
        if self.keepalive:
            ka = self.keepalive * 1000
            if self._ping_out and now - self._ping_out >= ka:
                self.close()
                raise MQTTException("no PINGRESP within keepalive (%d s): connection lost" % self.keepalive)
            # ping when we have been quiet, and also when the server has: a
            # half-open connection (peer gone, our writes still buffered) only
            # shows as silence while we keep sending
            if not self._ping_out and (now - self._last_tx >= ka // 2 or now - self._last_rx >= ka // 2):
                self.ping()
                self._ping_out = now or 1
        if self._inflight:
            for i in range(self._n_slots):
                if self._if_pid[i] and now - self._if_first[i] > 2 * self.retry_ms:
                    self.close()
                    raise MQTTException(
                        "no PUBACK for packet %d within %d ms: connection lost" % (self._if_pid[i], 2 * self.retry_ms)
                    )
            for i in range(self._n_slots):
                if self._if_pid[i] and now - self._if_time[i] >= self.retry_ms:
                    self._if_time[i] = now
                    self._send_publish(
                        self._if_topic[i], self._if_msg[i], 1, self._if_retain[i], True, self._if_pid[i]
                    )
        return n

    def pending(self):
        """Number of QoS 1 publishes not yet acknowledged."""
        return self._inflight

    def pending_pids(self):
        return [p for p in self._if_pid if p]

    def forget_pending(self):
        for i in range(self._n_slots):
            self._if_pid[i] = 0
            self._if_topic[i] = None
            self._if_msg[i] = None
        self._inflight = 0

    # -- internals

    def _setup_io(self):
        self._read, self._write_fn = nonblocking_io(self.sock)
        self._poller = select.poll()
        self._poller.register(self.sock, select.POLLIN)

    def _next_pid(self):
        pid = self._pid
        while True:
            pid = pid + 1 if pid < 65535 else 1
            if pid not in self._if_pid:
                break
        self._pid = pid
        return pid

    def _free_slot(self):
        for i in range(self._n_slots):
            if not self._if_pid[i]:
                return i
        return -1

    def _send_publish(self, topic, msg, qos, retain, dup, pid):
        mlen = len(msg)
        tx = self._tx
        if len(topic) + 9 > len(tx):
            hdr = bytearray(len(topic) + 9)
            n = publish_header(hdr, topic, mlen, qos, retain, dup, pid)
            self._write(hdr, n)
            self._write(msg)
            return
        n = publish_header(tx, topic, mlen, qos, retain, dup, pid)
        if n + mlen <= len(tx):
            tx[n : n + mlen] = msg
            self._write(tx, n + mlen)
        else:
            self._write(tx, n)
            self._write(msg)

    def _write(self, data, length=-1):
        """Send data[:length] (all of it by default), waiting up to timeout_ms for room."""
        if self.sock is None:
            raise MQTTException("not connected")
        try:
            send_all(self.sock, self._write_fn, data, length, self._rt, self.timeout_ms, MQTTException)
        except Exception:
            self.close()
            raise
        self._last_tx = self._clock.now_ms()

    def _wait_readable(self, ms):
        if self._poller is not None:
            self._poller.poll(max(0, min(ms, 1000)) if ms >= 0 else 1000)

    def _fill(self):
        """Read what the socket has into the receive buffer. -> bytes read (0 = none)."""
        if self._rx_len >= len(self._rx):
            return 0
        buf = self._rxv[self._rx_len :] if self._rx_len else self._rxv
        try:
            n = self._read(buf)
        except OSError as e:
            if _is_wouldblock(e):
                return 0
            self.close()
            raise
        if n is None:
            return 0
        if n == 0:
            self.close()
            raise MQTTException("connection closed by server")
        self._rx_len += n
        self._last_rx = self._clock.now_ms()
        return n

    def _next_packet(self):
        """Frame the next complete packet: its first byte (body at _p_start:_p_end), or -1."""
        while True:
            if self._skip:
                if not self._discard():
                    return -1
                continue
            t = self._frame()
            if t >= 0:
                return t
            if t == -2:
                continue  # an oversized PUBLISH: being skipped
            if not self._fill():
                return -1

    def _discard(self):
        """Throw away the next bytes of an oversized PUBLISH. -> False when none were readable."""
        if not self._rx_len and not self._fill():
            return False
        k = self._skip if self._skip < self._rx_len else self._rx_len
        self._consume(k)
        self._skip -= k
        if not self._skip:
            topic, qos, pid, size = self._skip_info
            self._skip_info = None
            if qos == 1:
                self._send_ack(PUBACK, pid)  # delivered: the broker must not send it again
            if self.on_oversize:
                self.on_oversize(topic, size)
        return True

    def _start_skip(self, hdr_len, rem):
        """An incoming PUBLISH of rem bytes exceeds max_packet: read its topic
        (and packet id), then skip the rest without buffering it.
        -> -2 once skipping, -1 while the topic has not arrived yet."""
        rx = self._rx
        n = self._rx_len
        flags = rx[0]
        qos = (flags >> 1) & 3
        if n < hdr_len + 2:
            return -1
        tlen = (rx[hdr_len] << 8) | rx[hdr_len + 1]
        head = hdr_len + 2 + tlen + (2 if qos else 0)
        if qos == 3 or head > len(rx) or head > hdr_len + rem:
            self.close()
            raise MQTTException("incoming PUBLISH of %d bytes exceeds max_packet %d" % (rem, self.max_packet))
        if n < head:
            return -1
        t_end = hdr_len + 2 + tlen
        pid = (rx[t_end] << 8) | rx[t_end + 1] if qos else 0
        self._skip_info = (bytes(rx[hdr_len + 2 : t_end]), qos, pid, hdr_len + rem - head)  # payload size
        self._skip = hdr_len + rem
        return -2

    def _frame(self):
        n = self._rx_len
        if n < 2:
            return -1
        rx = self._rx
        rem = 0
        shift = 0
        i = 1
        while True:
            if i >= n:
                return -1
            b = rx[i]
            rem |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                break
            shift += 7
            if shift >= 28:
                self.close()
                raise MQTTException("malformed remaining length (more than 4 bytes)")
        if rem > self.max_packet:
            ptype = rx[0]
            if ptype & 0xF0 == PUBLISH:
                return self._start_skip(i, rem)
            self.close()
            raise MQTTException(
                "incoming packet (type 0x%02x) of %d bytes exceeds max_packet %d" % (ptype, rem, self.max_packet)
            )
        end = i + rem
        if end > n:
            return -1
        self._p_start = i
        self._p_end = end
        return rx[0]

    def _consume(self, end):
        left = self._rx_len - end
        if left:
            self._rxv[:left] = self._rxv[end : self._rx_len]
        self._rx_len = left

    def _process(self):
        """Handle one complete packet if there is one. -> True if handled."""
        hdr = self._next_packet()
        if hdr < 0:
            return False
        start = self._p_start
        end = self._p_end
        ptype = hdr & 0xF0
        try:
            if ptype == PUBLISH:
                topic, msg, qos, pid, _dup, _ret = parse_publish(hdr & 0x0F, self._rxv[start:end])
                if qos == 1:
                    self._send_ack(PUBACK, pid)
                elif qos == 2:
                    raise MQTTException("QoS 2 PUBLISH from server not supported")
                self._consume(end)
                end = 0
                if self.cb:
                    self.cb(topic, msg)
            elif ptype == PUBACK:
                if end - start != 2:
                    raise MQTTException("PUBACK with length %d" % (end - start))
                pid = (self._rx[start] << 8) | self._rx[start + 1]
                self._consume(end)
                end = 0
                self._acked(pid)
            elif ptype == PINGRESP:
                self._ping_out = 0
            elif ptype == SUBACK:
                pid, codes = parse_suback(self._rxv[start:end])
                self._suback[pid] = codes
            elif ptype == UNSUBACK:
                pass
            elif ptype == CONNACK:
                raise MQTTException("unexpected CONNACK while connected")
            else:
                raise MQTTException("unexpected packet type 0x%02x from server" % hdr)
        except MQTTException:
            self.close()
            raise
        if end:
            self._consume(end)
        return True

    def _send_ack(self, ptype, pid):
        b = self._ackbuf
        b[0] = ptype
        b[1] = 2
        b[2] = pid >> 8
        b[3] = pid & 0xFF
        self._write(b)

    def _acked(self, pid):
        for i in range(self._n_slots):
            if self._if_pid[i] == pid:
                self._if_pid[i] = 0
                self._if_topic[i] = None
                self._if_msg[i] = None
                self._inflight -= 1
                if self.on_puback:
                    self.on_puback(pid)
                return

