"""Opening an MQTT session: CONNECT and its CONNACK, SUBSCRIBE and its SUBACK
(a part of MQTTClient, loaded by its connect() and subscribe() and, on a
board, released after: a steady loop does not hold this code, and it is
loaded only once a TLS handshake has given back what it needed)."""

from uedge.transport.mqtt_packets import (
    CONNACK,
    CONNECT,
    SUBSCRIBE,
    _bytes,
    _put_str,
    encode_varint,
    varint_size,
)
from uedge.transport.net import MQTTAuthError, MQTTException

CONNACK_ERRORS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "not authorized (bad user name or password)",
    5: "not authorized",
}


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


def connack(c, clean_session, tmo):
    """Send CONNECT on client c's open socket and wait up to tmo ms for the
    CONNACK -> the session-present flag. Raises MQTTAuthError when refused for
    the credentials, MQTTException otherwise."""
    c._write(connect_packet(c.client_id, c.user, c.pswd, c.keepalive, clean_session, c.lw))
    deadline = c._rt.now_ms() + tmo
    while True:
        ptype = c._next_packet()
        if ptype >= 0:
            break
        # judge a wrong first byte now instead of waiting for its "length"
        if c._rx_len and c._rx[0] != CONNACK:
            raise MQTTException("expected CONNACK, got byte 0x%02x (not an MQTT server?)" % c._rx[0])
        if c._rt.now_ms() >= deadline:
            raise MQTTException("no CONNACK within %d ms" % tmo)
        c._wait_readable(deadline - c._rt.now_ms())
    if ptype != CONNACK:
        raise MQTTException("expected CONNACK, got packet type 0x%02x" % ptype)
    present, rc = parse_connack(c._rxv[c._p_start : c._p_end])
    c._consume(c._p_end)
    if rc:
        raise connack_error(rc)
    return present


def subscribe(c, topic, qos, tmo):
    """SUBSCRIBE on client c and wait up to tmo ms for its SUBACK -> the granted QoS."""
    pid = c._next_pid()
    c._write(subscribe_packet(pid, topic, qos))
    deadline = c._rt.now_ms() + tmo
    while pid not in c._suback:
        if c._rt.now_ms() >= deadline:
            # a server that leaves a SUBSCRIBE unanswered is not usable: drop it
            c.close()
            raise MQTTException("no SUBACK for %r within %d ms" % (topic, tmo))
        if not c._process():
            c._wait_readable(deadline - c._rt.now_ms())
    codes = c._suback.pop(pid)
    if codes[0] == 0x80:
        raise MQTTException("subscription to %r refused (SUBACK failure)" % (topic,))
    return codes[0]
