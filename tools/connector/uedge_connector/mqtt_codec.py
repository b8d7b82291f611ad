"""MQTT 3.1.1 packet reading and writing (the server side needs only a few)."""

import asyncio
import struct

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14

NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
    7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
    12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT",
}

# CONNACK return codes
ACCEPTED = 0
BAD_PROTOCOL = 1
ID_REJECTED = 2
UNAVAILABLE = 3
BAD_CREDENTIALS = 4
NOT_AUTHORIZED = 5


class ProtocolError(Exception):
    pass


class PacketTooLarge(ProtocolError):
    pass


async def read_packet(reader, max_size, only=None):
    """Returns (type, flags, body bytes). Raises asyncio.IncompleteReadError on EOF.
    only: the packet type required here (checked before reading the body)."""
    first = (await reader.readexactly(1))[0]
    if only is not None and first >> 4 != only:
        raise ProtocolError("expected %s, got first byte 0x%02x" % (NAMES[only], first))
    length = 0
    mult = 1
    for _ in range(4):
        b = (await reader.readexactly(1))[0]
        length += (b & 0x7F) * mult
        if not b & 0x80:
            break
        mult *= 128
    else:
        raise ProtocolError("malformed remaining length")
    if length > max_size:
        raise PacketTooLarge("packet of %d bytes exceeds %d" % (length, max_size))
    body = await reader.readexactly(length) if length else b""
    return first >> 4, first & 0x0F, body


def encode_length(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + encode_length(len(body)) + body


def utf8(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


class Reader:
    """Cursor over a packet body."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def u8(self):
        if self.pos + 1 > len(self.data):
            raise ProtocolError("packet truncated")
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self):
        if self.pos + 2 > len(self.data):
            raise ProtocolError("packet truncated")
        v = struct.unpack_from("!H", self.data, self.pos)[0]
        self.pos += 2
        return v

    def binary(self):
        n = self.u16()
        if self.pos + n > len(self.data):
            raise ProtocolError("packet truncated")
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(v)

    def string(self):
        try:
            return self.binary().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid UTF-8 string") from None

    def rest(self):
        v = self.data[self.pos:]
        self.pos = len(self.data)
        return bytes(v)

    def done(self):
        return self.pos >= len(self.data)


class Connect:
    __slots__ = ("protocol", "level", "clean", "keepalive", "client_id", "will_topic",
                 "will_message", "will_qos", "will_retain", "username", "password")


def parse_connect(body):
    r = Reader(body)
    c = Connect()
    c.protocol = r.string()
    c.level = r.u8()
    flags = r.u8()
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    c.clean = bool(flags & 0x02)
    c.keepalive = r.u16()
    c.client_id = r.string()
    c.will_topic = c.will_message = None
    c.will_qos = (flags >> 3) & 0x03
    c.will_retain = bool(flags & 0x20)
    if flags & 0x04:
        c.will_topic = r.string()
        c.will_message = r.binary()
    c.username = r.string() if flags & 0x80 else None
    c.password = r.binary() if flags & 0x40 else None
    return c


def parse_publish(flags, body):
    """Returns (topic, qos, dup, retain, packet_id, payload)."""
    r = Reader(body)
    qos = (flags >> 1) & 0x03
    topic = r.string()
    pid = r.u16() if qos > 0 else None
    return topic, qos, bool(flags & 0x08), bool(flags & 0x01), pid, r.rest()


def parse_subscribe(body):
    r = Reader(body)
    pid = r.u16()
    topics = []
    while not r.done():
        topics.append((r.string(), r.u8()))
    if not topics:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return pid, topics


def parse_unsubscribe(body):
    r = Reader(body)
    pid = r.u16()
    topics = []
    while not r.done():
        topics.append(r.string())
    if not topics:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return pid, topics


def connack(session_present, code):
    return packet(CONNACK, 0, bytes([1 if session_present else 0, code]))


def publish(topic, payload, qos=0, pid=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    body = utf8(topic)
    if qos:
        body += struct.pack("!H", pid)
    return packet(PUBLISH, qos << 1, body + payload)


def puback(pid):
    return packet(PUBACK, 0, struct.pack("!H", pid))


def suback(pid, codes):
    return packet(SUBACK, 0, struct.pack("!H", pid) + bytes(codes))


def unsuback(pid):
    return packet(UNSUBACK, 0, struct.pack("!H", pid))


def pingresp():
    return packet(PINGRESP, 0, b"")


def topic_matches(filt, topic):
    """MQTT filter matching; filters starting with a wildcard never match $-topics."""
    if topic.startswith("$") and filt[:1] in ("#", "+"):
        return False
    fparts = filt.split("/")
    tparts = topic.split("/")
    for i, f in enumerate(fparts):
        if f == "#":
            return True
        if i >= len(tparts):
            return False
        if f != "+" and f != tparts[i]:
            return False
    return len(fparts) == len(tparts)


def valid_filter(filt):
    if not filt:
        return False
    parts = filt.split("/")
    for i, p in enumerate(parts):
        if "#" in p and (p != "#" or i != len(parts) - 1):
            return False
        if "+" in p and p != "+":
            return False
    return True


async def close_writer(writer):
    try:
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2)
    except Exception:  # noqa: BLE001 - closing a broken connection
        pass
