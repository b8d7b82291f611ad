"""A deliberately simple blocking MQTT 3.1.1 client for protocol-rule tests: it
sends exactly the bytes a test asks for, including ones a proper client never
would (PUBREL out of the blue, DUP with QoS 0)."""

import socket
import ssl
import struct
import time


def _len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | 0x80 if n else b)
        if not n:
            return bytes(out)


def _str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("!H", len(b)) + b


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + _len(len(body)) + body


def connect_packet(client_id="", username=None, password=None, keepalive=60, clean=True,
                   will=None, will_qos=0, will_retain=False):
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
        payload += _str(will[0]) + _str(will[1])
    if username is not None:
        flags |= 0x80
        payload += _str(username)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    return packet(1, 0, _str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload)


def publish_packet(topic, payload, qos=0, pid=1, dup=False, retain=False):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = _str(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return packet(3, flags, body)


class Closed(Exception):
    pass


class RawClient:
    def __init__(self, port, host="127.0.0.1", tls=None, timeout=5.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.buf = b""
        self.next_pid = 1

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no packet")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no packet") from None
            except (ConnectionError, ssl.SSLError, OSError):
                chunk = b""
            if not chunk:
                raise Closed()
            self.buf += chunk

    def read(self, timeout=5.0):
        """Next packet as (type, flags, body); Closed when the server hung up."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        n, mult, i = 0, 1, 1
        while True:
            self._fill(i + 1, deadline)
            b = self.buf[i]
            n += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
        self._fill(i + n, deadline)
        first = self.buf[0]
        body = self.buf[i:i + n]
        self.buf = self.buf[i + n:]
        return first >> 4, first & 0x0F, body

    def connect(self, **kw):
        self.send(connect_packet(**kw))
        ptype, _flags, body = self.read()
        assert ptype == 2, ptype
        return body[0], body[1]  # session present, return code

    def publish(self, topic, payload, qos=0, **kw):
        pid = self.next_pid
        self.next_pid += 1
        self.send(publish_packet(topic, payload, qos=qos, pid=pid, **kw))
        return pid

    def subscribe(self, *filters, qos=0):
        pid = self.next_pid
        self.next_pid += 1
        body = struct.pack("!H", pid) + b"".join(_str(f) + bytes([qos]) for f in filters)
        self.send(packet(8, 2, body))
        while True:
            ptype, _f, body = self.read()
            if ptype == 9:
                assert struct.unpack("!H", body[:2])[0] == pid
                return list(body[2:])

    def unsubscribe(self, *filters):
        pid = self.next_pid
        self.next_pid += 1
        self.send(packet(10, 2, struct.pack("!H", pid) + b"".join(_str(f) for f in filters)))
        while True:
            ptype, _f, body = self.read()
            if ptype == 11:
                return struct.unpack("!H", body[:2])[0] == pid

    def ping(self):
        self.send(packet(12, 0, b""))
        while True:
            ptype, _f, _b = self.read()
            if ptype == 13:
                return True

    def messages(self, timeout=1.0):
        """Collect PUBLISHes for `timeout` seconds (stops early on close)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out
            try:
                ptype, flags, body = self.read(left)
            except (TimeoutError, Closed):
                return out
            if ptype == 3:
                out.append(parse_publish(flags, body))

    def wait_message(self, topic_prefix, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            ptype, flags, body = self.read(max(0.01, deadline - time.monotonic()))
            if ptype == 3:
                msg = parse_publish(flags, body)
                if msg[0].startswith(topic_prefix):
                    return msg

    def is_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (other packets skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.read(max(0.01, deadline - time.monotonic()))
            except Closed:
                return True
            except TimeoutError:
                return False

    def disconnect(self):
        try:
            self.send(packet(14, 0, b""))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_publish(flags, body):
    n = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + n].decode()
    qos = (flags >> 1) & 3
    pos = 2 + n + (2 if qos else 0)
    return topic, body[pos:], qos, bool(flags & 1)
