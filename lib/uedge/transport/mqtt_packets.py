"""MQTT 3.1.1 packets: encoders and decoders, module-level so they can be tested alone.
The packets of a session's setup (CONNECT, CONNACK, SUBSCRIBE) are in
mqtt_session, which only a connect or a subscribe loads."""

from uedge.compat import MICROPYTHON
from uedge.transport.net import MQTTAuthError, MQTTException  # noqa: F401 (the client raises them too)

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
