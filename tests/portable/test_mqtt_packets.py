from ptest import raises

from uedge.transport import mqtt_packets
from uedge.transport import mqtt_session
from uedge.transport import tls_setup
from uedge.transport.net import MQTTAuthError, MQTTException


def _varint(n):
    buf = bytearray(4)
    end = mqtt_packets.encode_varint(n, buf, 0)
    return bytes(buf[:end])


def test_varint_edges_encode():
    assert _varint(0) == b"\x00"
    assert _varint(127) == b"\x7f"
    assert _varint(128) == b"\x80\x01"
    assert _varint(16383) == b"\xff\x7f"
    assert _varint(16384) == b"\x80\x80\x01"
    assert _varint(2097151) == b"\xff\xff\x7f"
    assert _varint(2097152) == b"\x80\x80\x80\x01"
    assert _varint(268435455) == b"\xff\xff\xff\x7f"


def test_varint_size_matches_encoding():
    for n in (0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455):
        assert mqtt_packets.varint_size(n) == len(_varint(n))


def test_varint_out_of_range_raises():
    raises(MQTTException, _varint, 268435456)
    raises(MQTTException, _varint, -1)


def test_varint_decode_roundtrip_and_incomplete():
    for n in (0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455):
        enc = b"\x30" + _varint(n)
        assert mqtt_packets.decode_varint(enc, 1, len(enc)) == (n, len(enc))
        # every truncation asks for more bytes instead of guessing
        for cut in range(1, len(enc)):
            assert mqtt_packets.decode_varint(enc, 1, cut) is None


def test_varint_decode_five_bytes_is_malformed():
    e = raises(MQTTException, mqtt_packets.decode_varint, b"\xff\xff\xff\xff\x01", 0, 5)
    assert "malformed" in str(e)


def _connect_flags(pkt):
    # fixed header (1 + varint) then 00 04 'MQTT' 04 flags ka ka
    r = mqtt_packets.decode_varint(pkt, 1, len(pkt))
    off = r[1]
    assert bytes(pkt[off : off + 6]) == b"\x00\x04MQTT"
    assert pkt[off + 6] == 4
    return pkt[off + 7], (pkt[off + 8] << 8) | pkt[off + 9], off + 10


def _strings(pkt, off):
    out = []
    while off < len(pkt):
        n = (pkt[off] << 8) | pkt[off + 1]
        out.append(bytes(pkt[off + 2 : off + 2 + n]))
        off += 2 + n
    return out


def test_connect_token_auth_empty_client_id_empty_user_token_password():
    pkt = mqtt_session.connect_packet("", "", "eY4f3tyrE4Jqe3HsLGnPYf7cACKZlb0uvKVatFxX", 60)
    flags, ka, off = _connect_flags(pkt)
    assert flags == 0x80 | 0x40 | 0x02
    assert ka == 60
    assert _strings(pkt, off) == [b"", b"", b"eY4f3tyrE4Jqe3HsLGnPYf7cACKZlb0uvKVatFxX"]


def test_connect_password_auth_user_is_device_id():
    pkt = mqtt_session.connect_packet("", "12345", "a1b2c3d4e5f6g7h8i9j0", 30)
    flags, ka, off = _connect_flags(pkt)
    assert flags == 0xC2
    assert _strings(pkt, off) == [b"", b"12345", b"a1b2c3d4e5f6g7h8i9j0"]


def test_connect_certificate_and_anonymous_have_no_credentials():
    pkt = mqtt_session.connect_packet("", None, None, 0)
    flags, ka, off = _connect_flags(pkt)
    assert flags == 0x02
    assert ka == 0
    assert _strings(pkt, off) == [b""]


def test_connect_password_without_user_is_refused():
    raises(MQTTException, mqtt_session.connect_packet, "", None, "secret")


def test_connect_will_and_persistent_session_flags():
    pkt = mqtt_session.connect_packet("dev", None, None, 10, clean_session=False, will=("w", "bye", True, 1))
    flags, ka, off = _connect_flags(pkt)
    assert flags == 0x04 | 0x08 | 0x20
    assert _strings(pkt, off) == [b"dev", b"w", b"bye"]


def _publish_packet(topic, msg, qos=0, retain=False, dup=False, pid=0):
    """A whole PUBLISH: the header publish_header writes, then the payload."""
    topic = topic.encode() if isinstance(topic, str) else topic
    msg = msg.encode() if isinstance(msg, str) else msg
    hdr = bytearray(9 + len(topic))
    n = mqtt_packets.publish_header(hdr, topic, len(msg), qos, retain, dup, pid)
    return bytes(hdr[:n]) + msg


def test_publish_qos1_dup_encoding():
    pkt = _publish_packet("$resource/data_in", '{"001":1}', qos=1, dup=True, pid=0x1234)
    assert pkt[0] == 0x30 | 0x08 | 0x02
    rem, off = mqtt_packets.decode_varint(pkt, 1, len(pkt))
    assert rem == len(pkt) - off
    topic, msg, qos, pid, dup, retain = mqtt_packets.parse_publish(pkt[0] & 15, pkt[off:])
    assert topic == b"$resource/data_in"
    assert msg == b'{"001":1}'
    assert (qos, pid, dup, retain) == (1, 0x1234, True, False)


def test_publish_qos0_has_no_packet_id_and_rejects_dup():
    pkt = _publish_packet("t", "v")
    assert pkt == b"\x30\x04\x00\x01tv"
    raises(MQTTException, _publish_packet, "t", "v", 0, False, True)


def test_publish_large_payload_uses_multi_byte_length():
    pkt = _publish_packet("t", b"x" * 200)
    assert pkt[1:3] == b"\xcb\x01"  # 203 = 0x4b | 0x80, 0x01


def test_parse_publish_rejects_bad_topic_length_and_qos3():
    raises(MQTTException, mqtt_packets.parse_publish, 0, b"\x00\x09ab")
    raises(MQTTException, mqtt_packets.parse_publish, 6, b"\x00\x01a\x00\x01")
    raises(MQTTException, mqtt_packets.parse_publish, 2, b"\x00\x01a")


def test_subscribe_packet_shape():
    pkt = mqtt_session.subscribe_packet(7, "$resource/#", 0)
    assert pkt == b"\x82\x10\x00\x07\x00\x0b$resource/#\x00"


def test_suback_failure_code():
    pid, codes = mqtt_packets.parse_suback(b"\x00\x07\x80")
    assert pid == 7
    assert codes == [0x80]
    assert mqtt_packets.parse_suback(b"\x00\x08\x00\x01")[1] == [0, 1]
    raises(MQTTException, mqtt_packets.parse_suback, b"\x00")


def test_connack_codes_map_to_clear_errors():
    assert mqtt_session.parse_connack(b"\x01\x00") == (True, 0)
    raises(MQTTException, mqtt_session.parse_connack, b"\x00")
    e = mqtt_session.connack_error(5)
    assert isinstance(e, MQTTAuthError)
    assert "not authorized" in str(e)
    assert "not authorized" in str(mqtt_session.connack_error(4))
    e = mqtt_session.connack_error(3)
    assert not isinstance(e, MQTTAuthError)
    assert "unavailable" in str(e)


def test_pem_to_der_extracts_first_block():
    pem = b"-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n"
    assert tls_setup.pem_to_der(pem) == b"\x00\x01\x02\x03"
    assert tls_setup.pem_to_der(b"\x30\x82") == b"\x30\x82"


def _client_fed(max_packet, chunks):
    """An MQTTClient whose socket reads come from chunks (bytes pieces)."""
    from uedge.transport.mqtt_client import MQTTClient

    c = MQTTClient("x", "h", 1883, max_packet=max_packet)
    c.rx_buffer()
    feed = list(chunks)

    def read(buf):
        if not feed:
            return None
        piece = feed.pop(0)
        n = min(len(buf), len(piece))
        buf[:n] = piece[:n]
        if n < len(piece):
            feed.insert(0, piece[n:])
        return n

    c._read = read
    got = []
    c.set_callback(lambda t, m: got.append((t, m)))
    return c, got


def test_receive_buffer_grows_for_a_large_packet_and_shrinks_back():
    from uedge.transport import mqtt_receive

    body = b"\x00\x01t" + b"x" * 5000
    pkt = bytes((0x30,)) + _varint(len(body)) + body
    small = bytes((0x30,)) + _varint(5) + b"\x00\x01tok"
    c, got = _client_fed(8192, [pkt[:700], pkt[700:3000], pkt[3000:], small])
    assert len(c._rx) == mqtt_receive.RX_START  # small while packets are small
    for _ in range(20):
        c._process()
    assert got == [(b"t", b"x" * 5000), (b"t", b"ok")]
    assert len(c._rx) == mqtt_receive.RX_START  # back to small once handled
    # never beyond max_packet: a larger PUBLISH is skipped, not buffered
    c, got = _client_fed(2048, [pkt])
    sizes = []
    c.on_oversize = lambda t, n: sizes.append((t, n))
    for _ in range(20):
        c._process()
        assert len(c._rx) <= 2048 + 5
    assert got == [] and sizes == [(b"t", 5000)]


def _short_of_heap(module, limit):
    """module's bytearray() fails (MemoryError) above limit bytes, as a board's
    heap right after a TLS handshake. -> a function that undoes it."""
    real = bytearray

    def tight(*a):
        if a and isinstance(a[0], int) and a[0] > limit:
            raise MemoryError("memory allocation failed, allocating %d bytes" % a[0])
        return real(*a)

    module.bytearray = tight

    def undo():
        del module.bytearray

    return undo


def test_receive_buffer_is_smaller_when_the_heap_has_no_room_for_it():
    from uedge.transport import mqtt_receive

    undo = _short_of_heap(mqtt_receive, 300)
    try:
        small = bytes((0x30,)) + _varint(5) + b"\x00\x01tok"
        c, got = _client_fed(8192, [small, small])
        assert len(c._rx) == 256  # 1024 and 512 found no block: halved
        for _ in range(4):
            c._process()
        assert got == [(b"t", b"ok")] * 2
    finally:
        undo()
    undo = _short_of_heap(mqtt_receive, 32)
    try:
        from uedge.transport.mqtt_client import MQTTClient

        raises(MemoryError, MQTTClient("x", "h", 1883).rx_buffer)  # below 64 bytes: no buffer at all
    finally:
        undo()


def test_send_buffer_is_taken_by_the_first_publish_and_a_publish_without_room_goes_out_anyway():
    from uedge.transport import mqtt_client

    c = mqtt_client.MQTTClient("x", "h", 1883)
    assert c._tx is None  # nothing before a connect: the handshake gets the heap first
    sent = []
    c.sock = object()
    c._write = lambda data, n=-1: sent.append(bytes(data[:n] if n >= 0 else data))
    undo = _short_of_heap(mqtt_client, 64)
    try:
        c.publish("$resource/data_in", b'{"001":1}', qos=1)
        assert c._tx is None  # no room for it yet: the header went out on its own
        assert sent[0][0] == 0x32 and sent[1] == b'{"001":1}'
    finally:
        undo()
    del sent[:]
    c.publish("$resource/data_in", b'{"001":2}', qos=1)
    assert len(c._tx) == 512 and len(sent) == 1 and sent[0].endswith(b'{"001":2}')
