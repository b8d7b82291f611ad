"""Murano Device MQTT API rules against the local connector (token auth).

paho-mqtt plays a well-behaved device; rawmqtt sends the packets the rules are
about (QoS 2, PUBREL, DUP with QoS 0, oversize values) byte for byte.
"""

import json
import queue
import ssl
import time

import paho.mqtt.client as mqtt
import pytest
from rawmqtt import RawClient
from uedge_connector.testing import running_connector

MiB = 1048576
TOKENS = {}


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("mqtt")) as c:
        yield c


def provision(conn, device_id):
    c = RawClient(conn.mqtt_port)
    assert c.connect() == (0, 0)
    c.publish("$provision/" + device_id, b"", qos=1)
    topic, token, _qos, _r = c.wait_message("$provision/")
    assert topic == "$provision/" + device_id
    c.disconnect()
    TOKENS[device_id] = token.decode()
    return token.decode()


def device(conn, token, **kw):
    c = RawClient(conn.mqtt_port)
    sp, rc = c.connect(password=token, **kw)
    assert rc == 0
    return c


class Paho:
    """paho-mqtt device with a message queue."""

    def __init__(self, port, token=None, username="", client_id="", tls_ca=None, cert=None):
        self.msgs = queue.Queue()
        self.connected = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if token is not None:
            self.client.username_pw_set(username, token)
        if tls_ca:
            kw = {"ca_certs": tls_ca, "cert_reqs": ssl.CERT_REQUIRED}
            if cert:
                kw.update(certfile=cert[0], keyfile=cert[1])
            self.client.tls_set(**kw)
        self.client.on_message = lambda c, u, m: self.msgs.put((m.topic, m.payload.decode()))
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.put(rc)
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        self.rc = str(self.connected.get(timeout=10))  # paho ReasonCode name

    def publish(self, topic, payload, qos=1):
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(10)
        return info

    def get(self, timeout=5):
        return self.msgs.get(timeout=timeout)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def test_token_provisioning_with_paho_then_reconnect_with_token(conn):
    got = queue.Queue()
    anon = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
    anon.on_connect = lambda c, u, f, rc, p: c.publish("$provision/paho-1", None, qos=0)
    anon.on_message = lambda c, u, m: got.put((m.topic, m.payload.decode()))
    anon.connect("127.0.0.1", conn.mqtt_port, 30)
    anon.loop_start()
    try:
        topic, token = got.get(timeout=10)
    finally:
        anon.disconnect()
        anon.loop_stop()
    assert topic == "$provision/paho-1"
    assert len(token) == 40 and token.isalnum()
    dev = Paho(conn.mqtt_port, token)
    try:
        assert dev.rc == "Success"
        dev.publish("$resource/data_in", '{"001": 73.16492}')
    finally:
        dev.close()
    assert conn.get_resource("paho-1", "data_in") == '{"001": 73.16492}'
    assert [d for d in conn.devices() if d["id"] == "paho-1"][0]["provisioned"]
    # ClientID / Username may be the device id as well
    dev = Paho(conn.mqtt_port, token, username="paho-1", client_id="paho-1")
    assert dev.rc == "Success"
    dev.close()


def test_wrong_token_is_not_authorized(conn):
    dev = Paho(conn.mqtt_port, "x" * 40)
    try:
        assert dev.rc == "Not authorized"
    finally:
        dev.client.loop_stop()
    token = provision(conn, "tok-id")
    c = RawClient(conn.mqtt_port)
    assert c.connect(password=token, username="someone-else")[1] == 5
    c = RawClient(conn.mqtt_port)
    assert c.connect(password=token, client_id="someone-else")[1] == 2


def test_already_provisioned_is_refused(conn):
    provision(conn, "twice")
    c = RawClient(conn.mqtt_port)
    c.connect()
    c.publish("$provision/twice", b"", qos=1)
    assert c.is_closed()


def test_anonymous_client_limited_to_provisioning(conn):
    c = RawClient(conn.mqtt_port)
    assert c.connect() == (0, 0)
    assert c.subscribe("$provision/anything") == [0]
    assert c.subscribe("$resource/#", "$content", "custom/topic") == [0x80, 0x80, 0x80]
    c.publish("$resource/data_in", "1")
    assert c.is_closed()
    assert not [d for d in conn.devices() if d["id"] == "anything"]


def test_isolation_between_two_devices(conn):
    a = device(conn, provision(conn, "iso-a"))
    b = device(conn, provision(conn, "iso-b"))
    assert a.subscribe("$resource/#") == [0]
    assert b.subscribe("$resource/#") == [0]
    a.publish("$resource/data_in", '{"001": 1}', qos=1)
    b.publish("$resource/data_in", '{"001": 2}', qos=1)
    conn.set_resource("iso-a", "config_io", '{"channels": {"a": {}}}')
    got_a = a.messages(1.0)
    got_b = b.messages(0.5)
    assert [m[0].split("/")[1] for m in got_a] == ["config_io"]
    assert got_b == []
    assert [v for _t, v in conn.history("iso-a", "data_in")] == ['{"001": 1}']
    assert [v for _t, v in conn.history("iso-b", "data_in")] == ['{"001": 2}']
    assert conn.get_resource("iso-b", "config_io") is None
    # another device's provision topic is not subscribable
    assert a.subscribe("$provision/iso-b", "$provision/iso-a") == [0x80, 0]
    a.disconnect()
    b.disconnect()


def test_multi_resource_and_batch_history(conn):
    c = device(conn, provision(conn, "multi"))
    c.publish("$resource/", json.dumps({"data_in": '{"001": 73.1}',
                                        "config_io": '{"channels": {}}'}), qos=1)
    batch = [{"timestamp": 1531111131679000, "values": {"data_in": '{"001":73.16492}'}},
             {"timestamp": 1531111131689665, "values": {"data_in": '{"001":72.73459}'}}]
    c.publish("$resource.batch", json.dumps(batch), qos=1)
    c.ping()
    assert conn.get_resource("multi", "config_io") == '{"channels": {}}'
    hist = conn.history("multi", "data_in")
    assert hist[:2] == [(1531111131679000, '{"001":73.16492}'),
                        (1531111131689665, '{"001":72.73459}')]
    assert hist[2][1] == '{"001": 73.1}'
    c.disconnect()


def test_updates_pushed_with_timestamp_not_resent_on_reconnect(conn):
    token = provision(conn, "upd")
    dev = Paho(conn.mqtt_port, token)
    try:
        ts = conn.set_resource("upd", "config_io", '{"channels":{}}')
        topic, value = dev.get()
        assert topic == "$resource/config_io/%d" % ts
        assert value == '{"channels":{}}'
        ts2 = conn.set_resource("upd", "data_out", '{"002": 1}')
        assert dev.get() == ("$resource/data_out/%d" % ts2, '{"002": 1}')
        dev.publish("$resource/data_out", '{"002": 1}')  # device acknowledges data_out
        assert conn.history("upd", "data_out")[-1][1] == '{"002": 1}'
    finally:
        dev.close()
    # changed while offline: the seed promises a PUBLISH on a state change only, so
    # nothing comes on the next connect (the resend_on_connect extension would)
    conn.set_resource("upd", "config_applications", '{"applications": {}}')
    c = device(conn, token)
    assert c.messages(1.0) == []
    c.disconnect()


def test_qos2_treated_as_qos0_and_retain_ignored(conn):
    c = device(conn, provision(conn, "q2"))
    c.publish("$resource/data_in", "q2-value", qos=2)
    c.publish("custom/retained", "r", qos=0, retain=True)
    assert c.ping()  # PINGRESP comes back, no PUBREC before it
    assert c.messages(0.3) == []
    assert conn.get_resource("q2", "data_in") == "q2-value"
    c.disconnect()
    c2 = device(conn, TOKENS["q2"])
    assert c2.subscribe("custom/#") == [0]
    assert c2.messages(0.5) == []  # nothing retained
    c2.disconnect()


@pytest.mark.parametrize("packet_type", [5, 6, 7])
def test_qos2_flow_packets_disconnect(conn, packet_type):
    c = device(conn, provision(conn, "pubrel-%d" % packet_type))
    flags = 2 if packet_type == 6 else 0
    c.send(bytes([(packet_type << 4) | flags, 2, 0, 1]))
    assert c.is_closed()


def test_dup_with_qos0_disconnects(conn):
    c = device(conn, provision(conn, "dup0"))
    c.publish("$resource/data_in", "x", qos=0, dup=True)
    assert c.is_closed()
    assert conn.get_resource("dup0", "data_in") is None


def test_qos1_puback_and_subscribe_grants_qos0(conn):
    c = device(conn, provision(conn, "ack"))
    pid = c.publish("$resource/data_in", "v", qos=1)
    ptype, _f, body = c.read()
    assert ptype == 4 and body == pid.to_bytes(2, "big")
    assert c.subscribe("$resource/+", "$resource/config_io", "$resource.batch", "$content",
                       "my/own/topic", qos=1) == [0, 0, 0, 0, 0]
    assert c.subscribe("$other/thing", "$provision/#") == [0x80, 0x80]
    c.disconnect()


def test_unsubscribe_acked_but_reserved_topics_keep_flowing(conn):
    c = device(conn, provision(conn, "unsub"))
    assert c.subscribe("$resource/#", "news") == [0, 0]
    assert c.unsubscribe("$resource/#", "news")
    ts = conn.set_resource("unsub", "config_io", "{}")
    assert c.wait_message("$resource/")[0] == "$resource/config_io/%d" % ts
    assert conn.publish("unsub", "news", "hello")["delivered"] == 0
    c.disconnect()


def test_custom_topics_and_persistent_session(conn):
    token = provision(conn, "sess")
    c = device(conn, token, client_id="sess", clean=False)
    assert c.subscribe("alerts/+") == [0]
    c.publish("telemetry/raw", "abc", qos=1)
    c.disconnect()
    assert conn.messages("sess")[-1]["topic"] == "telemetry/raw"
    c = RawClient(conn.mqtt_port)
    assert c.connect(password=token, client_id="sess", clean=False) == (1, 0)
    assert conn.publish("sess", "alerts/high", "!")["delivered"] == 1
    assert c.wait_message("alerts/")[:2] == ("alerts/high", b"!")
    c.disconnect()
    c = RawClient(conn.mqtt_port)
    assert c.connect(password=token, client_id="sess", clean=True) == (0, 0)
    assert conn.publish("sess", "alerts/high", "!")["delivered"] == 0
    c.disconnect()
    # empty client id with clean session 0 is rejected (MQTT 3.1.1)
    c = RawClient(conn.mqtt_port)
    assert c.connect(password=token, clean=False)[1] == 2


def test_same_client_id_takes_over_and_keeps_the_session(conn):
    token = provision(conn, "take")
    a = device(conn, token, client_id="take", clean=False)
    assert a.subscribe("cmd/#") == [0]
    b = RawClient(conn.mqtt_port)
    assert b.connect(password=token, client_id="take", clean=False) == (1, 0)
    assert a.is_closed()
    assert conn.publish("take", "cmd/go", "1")["delivered"] == 1
    assert b.wait_message("cmd/")[:2] == ("cmd/go", b"1")
    b.disconnect()


def test_resource_size_limit(conn):
    c = device(conn, provision(conn, "big"))
    c.publish("$resource/blob", "a" * MiB, qos=1)
    ptype, _f, _b = c.read(10)
    assert ptype == 4
    assert len(conn.get_resource("big", "blob")) == MiB
    c.publish("$resource/blob", "b" * (MiB + 1), qos=1)
    assert c.is_closed(10)
    assert conn.get_resource("big", "blob")[0] == "a"


def test_content_listing(conn):
    conn.upload_content("logo.gif", b"GIF89a" + b"\0" * 100, "image/gif")
    c = device(conn, provision(conn, "cont"))
    c.publish("$content", b"")
    topic, payload, _q, _r = c.wait_message("$content")
    listing = json.loads(payload)
    item = [x for x in listing if x["name"] == "logo.gif"][0]
    assert item["length"] == 106 and item["mime"] == "image/gif"
    assert item["url"].startswith("https://127.0.0.1:%d/" % conn.https_port)
    ctx = ssl.create_default_context(cafile=conn.ca_path)
    import urllib.request

    with urllib.request.urlopen(item["url"], context=ctx) as r:
        assert r.read() == b"GIF89a" + b"\0" * 100
    c.disconnect()


def test_keepalive_enforced(conn):
    c = device(conn, provision(conn, "ka"), keepalive=1)
    assert c.is_closed(10)


def test_will_message_is_qos0_non_retained_device_write(conn):
    token = provision(conn, "will")
    c = device(conn, token, will=("$resource/status", "offline"), will_qos=1, will_retain=True)
    c.publish("$resource/status", "online", qos=1)
    c.read()
    c.close()  # no DISCONNECT: the will fires
    deadline = time.monotonic() + 5
    while conn.get_resource("will", "status") != "offline" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert conn.get_resource("will", "status") == "offline"
    c = device(conn, token, will=("$resource/status", "offline2"))
    c.disconnect()  # clean disconnect: no will
    c = device(conn, token)
    c.ping()
    assert conn.get_resource("will", "status") == "offline"
    c.disconnect()


def test_tls_listener_with_ca(conn):
    token = provision(conn, "tls-dev")
    dev = Paho(conn.mqtts_port, token, tls_ca=conn.ca_path)
    try:
        assert dev.rc == "Success"
        dev.publish("$resource/data_in", "over tls")
    finally:
        dev.close()
    assert conn.get_resource("tls-dev", "data_in") == "over tls"


def test_random_garbage_after_connect_does_not_hurt_the_server(conn):
    import random

    token = provision(conn, "garbage")
    for seed in range(20):
        rnd = random.Random(seed)
        c = device(conn, token)
        c.send(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300))))
        c.close()
    c = device(conn, token)
    c.publish("$resource/data_in", "still fine", qos=1)
    assert c.read()[0] == 4
    c.disconnect()
    assert conn.get_resource("garbage", "data_in") == "still fine"


def test_bad_packets_do_not_hurt_the_server(conn):
    c = RawClient(conn.mqtt_port)
    c.send(b"\x10\xff\xff\xff\xff\x7f")  # malformed remaining length
    assert c.is_closed()
    c = RawClient(conn.mqtt_port)
    c.send(b"GET / HTTP/1.1\r\n\r\n")
    assert c.is_closed()
    c = device(conn, provision(conn, "after-bad"))
    assert c.ping()
    c.disconnect()
