"""The Murano MQTT rules once more with paho-mqtt as an independent client
(for the packets paho will not send on its own, its internal senders are used)."""

import json
import queue
import ssl
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from uedge_connector import pki
from uedge_connector.testing import running_connector

V2 = mqtt.CallbackAPIVersion.VERSION2
NOT_AUTHORIZED = 135  # paho reports CONNACK code 5 as the MQTT 5 reason "Not authorized"
MiB = 1048576


class Dev:
    def __init__(self, port, username=None, password=None, client_id="", ca=None, cert=None,
                 keepalive=30):
        self.msgs = queue.Queue()
        self.acks = queue.Queue()
        self.subacks = queue.Queue()
        self.disconnected = threading.Event()
        c = mqtt.Client(V2, client_id=client_id)
        if username is not None or password is not None:
            c.username_pw_set(username or "", password)
        if ca:
            kw = {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
            if cert:
                kw.update(certfile=cert[0], keyfile=cert[1])
            c.tls_set(**kw)
        conn_q = queue.Queue()
        c.on_connect = lambda cl, u, f, rc, p: conn_q.put(rc)
        c.on_message = lambda cl, u, m: self.msgs.put((m.topic, m.payload, m.qos, m.retain))
        c.on_publish = lambda cl, u, mid, rc, p: self.acks.put(mid)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.subacks.put([r.value for r in rcs])
        c.on_disconnect = lambda cl, u, f, rc, p: self.disconnected.set()
        self.client = c
        c.connect("127.0.0.1", port, keepalive)
        c.loop_start()
        rc = conn_q.get(timeout=10)
        self.rc = rc.value if hasattr(rc, "value") else rc
        if self.rc != 0:
            c.loop_stop()

    def pub(self, topic, payload, qos=1, retain=False, wait=True):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if wait and qos == 1:
            info.wait_for_publish(10)
        return info

    def sub(self, *topics):
        self.client.subscribe([(t, 1) for t in topics])
        return self.subacks.get(timeout=10)

    def get(self, timeout=5):
        return self.msgs.get(timeout=timeout)

    def drain(self, seconds=0.5):
        out = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                out.append(self.msgs.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def closed_by_server(self, timeout=5):
        return self.disconnected.wait(timeout)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def provision_token(conn, device_id):
    anon = Dev(conn.mqtt_port)
    assert anon.sub("$provision/" + device_id) == [0]
    anon.pub("$provision/" + device_id, None)
    topic, token, _q, _r = anon.get()
    anon.close()
    assert topic == "$provision/" + device_id
    return token.decode()


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("paho")) as c:
        yield c


def test_anonymous_limits_and_provision_topic_failures(conn):
    anon = Dev(conn.mqtt_port)
    assert anon.rc == 0
    assert anon.sub("$resource/#") == [0x80]
    assert anon.sub("$provision/p-1") == [0]
    anon.pub("$resource/data_in", "nope", wait=False)
    assert anon.closed_by_server()
    anon.client.loop_stop()
    dev = Dev(conn.mqtt_port, password=provision_token(conn, "p-1"))
    assert dev.sub("$provision/someone-else") == [0x80]
    assert dev.sub("$provision/p-1", "$resource/+", "$content") == [0, 0, 0]
    dev.close()
    bad = Dev(conn.mqtt_port, password="not-a-token")
    assert bad.rc == NOT_AUTHORIZED


def test_isolation_multi_batch_and_updates(conn):
    a = Dev(conn.mqtt_port, password=provision_token(conn, "p-a"))
    b = Dev(conn.mqtt_port, password=provision_token(conn, "p-b"))
    a.pub("$resource/data_in", '{"001": 10}')
    b.pub("$resource/data_in", '{"001": 20}')
    a.pub("$resource/", json.dumps({"data_in": '{"001": 11}', "config_io": '{"channels": {}}'}))
    b.pub("$resource.batch", json.dumps([{"timestamp": 1531111131679000,
                                          "values": {"data_in": '{"001": 19}'}}]))
    ts = conn.set_resource("p-b", "data_out", '{"002": 1}')
    assert b.get()[:2] == ("$resource/data_out/%d" % ts, b'{"002": 1}')
    assert a.drain(0.5) == []
    assert [v for _t, v in conn.history("p-a", "data_in")] == ['{"001": 10}', '{"001": 11}']
    assert conn.history("p-b", "data_in")[0] == (1531111131679000, '{"001": 19}')
    assert [v for _t, v in conn.history("p-b", "data_in")] == ['{"001": 19}', '{"001": 20}']
    assert conn.get_resource("p-a", "config_io") == '{"channels": {}}'
    assert conn.get_resource("p-b", "config_io") is None
    a.close()
    b.close()


def test_qos2_retain_and_content(conn):
    conn.upload_content("readme.txt", b"hi", "text/plain")
    d = Dev(conn.mqtt_port, password=provision_token(conn, "p-q2"))
    info = d.pub("$resource/data_in", "two", qos=2)
    d.pub("$resource/status", "kept?", qos=1, retain=True)
    assert conn.get_resource("p-q2", "data_in") == "two"
    assert not info.is_published()  # the QoS 2 flow never started: no PUBREC came back
    d.pub("$content", b"", qos=0)
    topic, payload, qos, retain = d.get()
    assert topic == "$content" and qos == 0 and not retain
    assert [(i["name"], i["length"]) for i in json.loads(payload)] == [("readme.txt", 2)]
    assert d.sub("$resource/#", "custom/#") == [0, 0]  # QoS 0 granted for QoS 1 requests
    assert d.drain(0.3) == []  # retained nothing
    d.close()


def test_pubrel_and_dup_qos0_disconnect(conn):
    token = provision_token(conn, "p-rules")
    d = Dev(conn.mqtt_port, password=token)
    d.client._send_pubrel(7)  # not something paho sends unprompted
    assert d.closed_by_server()
    d.client.loop_stop()
    d = Dev(conn.mqtt_port, password=token)
    d.client._send_publish(0, b"$resource/data_in", b"dup", 0, False, True,
                           mqtt.MQTTMessageInfo(0))
    assert d.closed_by_server()
    d.client.loop_stop()
    assert conn.get_resource("p-rules", "data_in") is None


def test_one_mib_limit(conn):
    d = Dev(conn.mqtt_port, password=provision_token(conn, "p-big"))
    d.pub("$resource/blob", b"a" * MiB)
    assert len(conn.get_resource("p-big", "blob")) == MiB
    d.pub("$resource/blob", b"b" * (MiB + 1), wait=False)
    assert d.closed_by_server(10)
    d.client.loop_stop()
    assert conn.get_resource("p-big", "blob")[:1] == "a"


def test_password_provisioning_with_paho(tmp_path):
    with running_connector(tmp_path, auth="password") as conn:
        anon = Dev(conn.mqtt_port, client_id="")
        anon.pub("$provision/pp-1", "a1b2c3d4e5f6g7h8i9j0")
        assert anon.drain(0.3) == []  # no token reply in password mode
        anon.close()
        d = Dev(conn.mqtt_port, username="pp-1", password="a1b2c3d4e5f6g7h8i9j0")
        assert d.rc == 0
        d.pub("$resource/data_in", "pw")
        d.close()
        assert conn.get_resource("pp-1", "data_in") == "pw"
        wrong = Dev(conn.mqtt_port, username="pp-1", password="wrong-but-long-enough!!")
        assert wrong.rc == NOT_AUTHORIZED


def test_certificate_auth_with_paho(tmp_path):
    with running_connector(tmp_path, auth="cert") as conn:
        cert = pki.make_client_cert(str(tmp_path / "certs"), conn.pki, "pc-1")
        d = Dev(conn.mqtts_port, ca=conn.ca_path, cert=cert)
        assert d.rc == 0
        d.pub("$resource/data_in", "cert")
        ts = conn.set_resource("pc-1", "config_io", "{}")
        assert d.get()[:2] == ("$resource/config_io/%d" % ts, b"{}")
        d.close()
        assert conn.get_resource("pc-1", "data_in") == "cert"
        assert Dev(conn.mqtts_port, ca=conn.ca_path).rc == NOT_AUTHORIZED


def test_whitelist_rejection_with_paho(tmp_path):
    with running_connector(tmp_path, whitelist=["pw-ok"], self_register=False) as conn:
        anon = Dev(conn.mqtt_port)
        anon.pub("$provision/pw-not-listed", None, wait=False)
        assert anon.closed_by_server()
        anon.client.loop_stop()
        token = provision_token(conn, "pw-ok")
        assert Dev(conn.mqtt_port, password=token).rc == 0
