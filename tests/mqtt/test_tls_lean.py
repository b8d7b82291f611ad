"""uedge_host.tls: the gateway's TLS on the C modules (no ssl.py, no socket.py),
against real TLS servers (mosquitto, the local connector): CA and host name
verification with SNI, client certificates, QoS 1 through it, end of stream."""

import os
import ssl
import subprocess
import sys
import textwrap

import pytest
from mqtt_helpers import pump

from peers.mosquitto import make_pki, running_mosquitto
from uedge.transport import net
from uedge.transport.mqtt_client import MQTTClient
from uedge.transport.net import MQTTException

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "host"))

from uedge_host import tls  # noqa: E402


@pytest.fixture
def lean():
    tls.install()
    yield
    net.set_tls(None)


def test_verifies_ca_and_hostname_with_sni(broker, peer, tmp_path, lean):
    for host in ("localhost", "127.0.0.1"):
        c = MQTTClient("", host, broker.tls_port, ssl=True, ssl_params={"ca": broker.ca_path})
        c.connect()
        assert isinstance(c.sock, tls.TLSSocket)
        assert c.sock.server_hostname == host  # SNI
        acks = []
        c.on_puback = acks.append
        pid = c.publish("lean/q1", "through-c-tls", qos=1)
        assert pump(c, lambda acks=acks, pid=pid: acks == [pid])
        assert peer.wait_for(lambda m: m[0] == "lean/q1" and m[1] == b"through-c-tls")
        c.disconnect()
    other = make_pki(str(tmp_path / "other-ca"))
    bad = MQTTClient("", "localhost", broker.tls_port, ssl=True, ssl_params={"ca": other["ca_cert"]})
    with pytest.raises(ssl.SSLCertVerificationError):
        bad.connect()
    assert bad.sock is None
    wrong_name = MQTTClient("", "127.0.0.1", broker.tls_port, ssl=True,
                            ssl_params={"ca": broker.ca_path, "server_hostname": "wrong.example"})
    with pytest.raises(ssl.SSLCertVerificationError, match="wrong.example|match"):
        wrong_name.connect()
    # no CA given: the system store, which does not know the test CA
    nocfg = MQTTClient("", "localhost", broker.tls_port, ssl=True, ssl_params={})
    with pytest.raises(ssl.SSLCertVerificationError):
        nocfg.connect()


def test_context_defaults_are_strict():
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    assert ctx.check_hostname is True
    assert ctx.verify_mode == tls.CERT_REQUIRED
    ref = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert ctx.minimum_version == ref.minimum_version
    assert ctx.options == ref.options
    assert ctx.get_ciphers() == ref.get_ciphers()


def test_client_certificate(tmp_path, lean):
    # the client-certificate test of the ssl-module path, through uedge_host.tls
    from test_mqtt_client import test_tls_client_certificate as with_client_certificate

    with_client_certificate(tmp_path)


def test_server_gone_is_a_lost_connection(tmp_path, lean):
    with running_mosquitto(tmp_path / "m", tls=True) as b:
        c = MQTTClient("", "localhost", b.tls_port, ssl=True, ssl_params={"ca": b.ca_path}, keepalive=30)
        c.connect()
        b.stop()
        with pytest.raises((OSError, MQTTException)):
            pump(c, lambda: False, 3)
        assert not c.connected


def test_daemon_process_never_loads_ssl_or_socket_modules(broker, tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.path[:0] = [%r, %r]
        from uedge_host import tls
        tls.install()
        from uedge.transport.mqtt_client import MQTTClient
        c = MQTTClient("", "localhost", %d, ssl=True, ssl_params={"ca": %r})
        c.connect()
        acks = []
        c.on_puback = acks.append
        pid = c.publish("lean/proc", "x", qos=1)
        for _ in range(200):
            c.wait_msg(50)
            if acks:
                break
        c.disconnect()
        print(acks == [pid], "ssl" in sys.modules, "socket" in sys.modules)
    """) % (os.path.join(ROOT, "lib"), os.path.join(ROOT, "host"), broker.tls_port, broker.ca_path)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False"]
