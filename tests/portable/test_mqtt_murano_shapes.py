import json
import sys

from ptest import raises

from uedge.transport import http_client
from uedge.transport import http_form
from uedge.transport import murano_http
from uedge.transport.link import Backoff, MuranoError
from uedge.transport.murano_mqtt import batch_payload, MuranoMQTT, parse_update_topic


def test_backoff_doubles_with_jitter_and_caps():
    b = Backoff(1000, 8000, rand=lambda: 1.0)
    assert [b.failed(0) for _ in range(6)] == [1000, 2000, 4000, 8000, 8000, 8000]
    assert b.next_ms == 8000 and not b.ready(7999) and b.ready(8000)
    b.reset()
    assert b.ready(0)
    low = Backoff(1000, 8000, rand=lambda: 0.0)
    assert [low.failed(0) for _ in range(4)] == [500, 1000, 2000, 4000]
    assert low.failed(100, floor_ms=30000) == 30000
    assert low.next_ms == 30100


def test_update_topics():
    assert parse_update_topic(b"$resource/config_io/1633800180299724") == ("config_io", 1633800180299724)
    assert parse_update_topic(b"$resource/data_out/1") == ("data_out", 1)
    # own publishes echoed by a plain broker carry no timestamp: not updates
    assert parse_update_topic(b"$resource/data_in") is None
    assert parse_update_topic(b"$resource/") is None
    assert parse_update_topic(b"$resource.batch") is None
    assert parse_update_topic(b"$resource/x/notanumber") is None
    assert parse_update_topic(b"$provision/0001") is None


def test_batch_payload_matches_the_api_example():
    p = batch_payload([(1531111131679000, {"data_in": '{"001":73.16492}'})])
    assert json.loads(p) == [{"timestamp": 1531111131679000, "values": {"data_in": '{"001":73.16492}'}}]
    raises(MuranoError, batch_payload, [(1, "not a dict")])


def test_constructor_checks_auth_settings():
    raises(MuranoError, MuranoMQTT, "h", 1883, "0001", auth="oauth")
    raises(MuranoError, MuranoMQTT, "h", 1883, "0001", auth="cert")
    raises(MuranoError, MuranoMQTT, "h", 1883, None, auth="token")
    m = MuranoMQTT("h", None, "0001", auth="token")
    assert m.port == 8883 and not m.provisioned and not m.connected
    assert MuranoMQTT("h", None, None, auth="cert", cert="c.pem", key="k.pem").provisioned


def test_form_encoding_roundtrip():
    s = 'a b&c=d/\u00e9{"x":1}+%'
    assert http_form.quote_plus(s) == "a+b%26c%3Dd%2F%C3%A9%7B%22x%22%3A1%7D%2B%25"
    assert http_form.unquote_plus(http_form.quote_plus(s)) == s
    assert http_form.urlencode([("data_in", '{"001":1}')]) == "data_in=%7B%22001%22%3A1%7D"
    assert http_form.parse_form("config_io=%7B%7D&data_out=a+b&empty") == [
        ("config_io", "{}"), ("data_out", "a b"), ("empty", "")]


def test_record_body_groups_by_alias_in_seconds():
    body = murano_http.record_body([(1700000000123456, {"data_in": "1"}), (1700000001000000, {"data_in": "2", "x": "y"})])
    assert body == "alias=data_in&1700000000=1&1700000001=2&alias=x&1700000001=y"


def test_chunked_decoding():
    raw = b"HTTP/1.1 200 OK\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
    start = raw.find(b"\r\n\r\n") + 4
    assert http_client._chunked(raw, start, len(raw)) == b"Wikipedia"
    assert http_client._chunked(raw, start, len(raw) - 3) is None
    raises(http_client.HTTPError, http_client._chunked, b"zz\r\n", 0, 4)


def test_parse_url_and_request_shape():
    assert http_client.parse_url("https://x.m2.exosite.io/") == (True, "x.m2.exosite.io", 443, "/")
    assert http_client.parse_url("http://127.0.0.1:8080/p?q") == (False, "127.0.0.1", 8080, "/p?q")
    raises(http_client.HTTPError, http_client.parse_url, "ftp://x/")
    req = http_form.build_request("POST", "127.0.0.1", 8443, "/onep:v1/stack/alias",
                          [("X-Exosite-CIK", "t")], "a=1")
    assert req == (b"POST /onep:v1/stack/alias HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"
                   b"User-Agent: uedge/0.1\r\nX-Exosite-CIK: t\r\nContent-Length: 3\r\n\r\na=1")


def test_set_credentials_marks_provisioned():
    m = MuranoMQTT("h", 1883, "0001", tls=False)
    assert not m.provisioned and m.credential is None
    m.set_credentials("eY4f3tyrE4Jqe3HsLGnPYf7cACKZlb0uvKVatFxX")
    assert m.provisioned and m.credential == "eY4f3tyrE4Jqe3HsLGnPYf7cACKZlb0uvKVatFxX"
    assert "eY4f" not in repr(m)
    hm = murano_http.MuranoHTTP("h", 80, "0001", tls=False)
    hm.set_credentials("t" * 40)
    assert hm.provisioned and "tttt" not in repr(hm)
    hm.forget_credentials()
    assert not hm.provisioned


def test_http_receive_buffers_follow_the_settings():
    # a board holds a small receive buffer per connection until a large response
    # arrives, and never more than max_response + headers
    hm = murano_http.MuranoHTTP("h", 80, "0001", tls=False, max_response=2048)
    for conn in (hm._writer, hm._watcher):
        assert len(conn._rx) <= http_client.RX_START, len(conn._rx)
        assert conn._cap == 2048 + http_client.HEAD_ROOM
        assert conn._grow(3000) and len(conn._rx) >= 3000
        assert not conn._grow(2048 + http_client.HEAD_ROOM + 1)
        conn._small()
        assert len(conn._rx) <= http_client.RX_START


class _Client:
    """Just the surface MuranoMQTT.record uses: publish and the pending packet ids."""

    connected = True

    def __init__(self):
        self.sent = []
        self.pending = []

    def publish(self, topic, msg, qos=1):
        self.sent.append((topic, msg))  # as held for a retransmission: not copied
        pid = len(self.sent)
        self.pending.append(pid)
        return pid

    def pending_pids(self):
        return list(self.pending)


def _text(msg):
    return msg if isinstance(msg, str) else bytes(msg).decode()


def test_replay_batches_reuse_one_buffer_once_acknowledged():
    m = MuranoMQTT("h", None, "0001", auth="token", batch_buffer=512)
    c = _Client()
    m._client = c
    e1 = [(1, {"data_in": '{"a":1}'}), (2, {"data_in": '{"a":2}'})]
    e2 = [(3, {"data_in": '{"a":"say \\"hi\\""}'}), (4, {"data_in": '{"a":4}'})]
    p1 = m.record(e1)
    p2 = m.record(e2)  # the first batch is unacknowledged: its bytes must not change
    assert json.loads(_text(c.sent[0][1])) == [{"timestamp": 1, "values": {"data_in": '{"a":1}'}},
                                        {"timestamp": 2, "values": {"data_in": '{"a":2}'}}]
    assert json.loads(_text(c.sent[1][1]))[0]["values"]["data_in"] == '{"a":"say \\"hi\\""}'
    assert (p1, p2) == (1, 2)
    c.pending = []  # both acknowledged
    m.record(e1)
    c.pending = []
    m.record([(9, {"data_in": "x" * 600}), (10, {"data_in": "{}"})])  # larger than the buffer
    assert json.loads(_text(c.sent[2][1]))[1]["timestamp"] == 2  # not overwritten by the large one
    assert json.loads(_text(c.sent[3][1]))[0]["values"]["data_in"] == "x" * 600
    if sys.implementation.name == "micropython":
        assert m._batch_buf is not None and len(m._batch_buf) == 512
    else:
        assert m._batch_buf is None  # a gateway builds each message as a str


class _Session(_Client):
    """A client whose connect() reports what MuranoMQTT still held during it."""

    def __init__(self, link, seen):
        _Client.__init__(self)
        self.link, self.seen = link, seen
        self.connected = False
        self._pid = 7
        self._rx = None
        self.max_packet = 0
        self.sock = None

    def set_callback(self, f):
        pass

    def connect(self, clean_session=True):
        self.seen.append((self.link._client, self.link._batch_buf))
        self.connected = True

    def subscribe(self, topic):
        pass

    def close(self):
        self.connected = False

    def disconnect(self):
        self.close()

    def forget_pending(self):
        pass

    def resume_pids(self, old):
        self._pid = old._pid


def test_a_reconnect_holds_neither_the_old_client_nor_the_batch_buffer_during_the_handshake():
    m = MuranoMQTT("h", None, "0001", auth="token", batch_buffer=512)
    m._secret = "t" * 20
    seen = []
    m._new_client = lambda *a, **k: _Session(m, seen)
    m.connect()
    first = m._client
    m._client.close()  # the link drops
    m.connect()
    assert len(seen) == 2
    assert seen[1][0] is None, "the old client is still held during the handshake"
    assert seen[0][1] is None and seen[1][1] is None, "the batch buffer is held during the handshake"
    assert m._client is not first and m._client._pid == 7
    if sys.implementation.name == "micropython":
        assert m._batch_buf is not None and len(m._batch_buf) == 512  # taken again after it
    else:
        assert m._batch_buf is None


class _NoRoomAfterHandshake(_Session):
    """A session that connects, then finds no heap for the SUBSCRIBE."""

    def subscribe(self, topic):
        raise MemoryError("memory allocation failed, allocating 1024 bytes")


def test_a_connect_short_of_heap_after_the_handshake_closes_its_session_and_backs_off():
    m = MuranoMQTT("h", None, "0001", auth="token")
    m._secret = "t" * 20
    seen = []
    m._new_client = lambda *a, **k: _NoRoomAfterHandshake(m, seen)
    raises(MemoryError, m.connect)
    assert m._client is not None and not m._client.connected  # the session is not left open
    m._reconnect(0)  # as poll() does: reported and backed off, no tight retry
    assert m.last_error == "out of memory" and m.memory_failures == 1 and not m.backoff.ready(0)
