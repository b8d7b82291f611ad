"""Password and certificate authentication, whitelisting and self-registration."""

import ssl
import urllib.error
import urllib.request

import pytest
from rawmqtt import Closed, RawClient
from uedge_connector import pki
from uedge_connector.testing import running_connector

PASSWORD = "a1b2c3d4e5f6g7h8i9j0"


def tls_context(conn, cert=None):
    ctx = ssl.create_default_context(cafile=conn.ca_path)
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    return ctx


def test_password_provisioning_and_login(tmp_path):
    # --http-authorization: password auth over HTTP needs the Authorization header
    with running_connector(tmp_path, auth="password", extra_args=["--http-authorization"]) as conn:
        c = RawClient(conn.mqtt_port)
        assert c.connect() == (0, 0)
        c.publish("$provision/pw-1", PASSWORD, qos=1)
        ptype, _f, _b = c.read()
        assert ptype == 4  # PUBACK, and no token reply
        assert c.messages(0.3) == []
        c.disconnect()

        c = RawClient(conn.mqtt_port)
        c.connect()
        c.publish("$provision/pw-short", "too-short", qos=1)
        assert c.is_closed()
        # "The ClientID must be set as empty while provisioning."
        c = RawClient(conn.mqtt_port)
        assert c.connect(client_id="pw-2") == (0, 0)
        c.publish("$provision/pw-2", PASSWORD, qos=1)
        assert c.is_closed()
        assert not [d for d in conn.devices() if d["id"] == "pw-2" and d["provisioned"]]

        c = RawClient(conn.mqtt_port)
        assert c.connect(username="pw-1", password="wrong-password-000000")[1] == 5
        c = RawClient(conn.mqtt_port)
        assert c.connect(username="pw-1", password=PASSWORD, client_id="other")[1] == 2
        c = RawClient(conn.mqtt_port)
        assert c.connect(username="pw-1", password=PASSWORD, client_id="pw-1") == (0, 0)
        c.publish("$resource/data_in", "7", qos=1)
        c.read()
        c.disconnect()
        assert conn.get_resource("pw-1", "data_in") == "7"

        # provisioning the same identity again is refused
        c = RawClient(conn.mqtt_port)
        c.connect()
        c.publish("$provision/pw-1", "another-password-12345", qos=1)
        assert c.is_closed()

        # the HTTP device API takes the same identity with Basic auth
        import base64

        auth = base64.b64encode(b"pw-1:" + PASSWORD.encode()).decode()
        req = urllib.request.Request(
            "http://127.0.0.1:%d/onep:v1/stack/alias?data_in" % conn.http_port,
            headers={"Authorization": "Basic " + auth})
        with urllib.request.urlopen(req) as r:
            assert r.read() == b"data_in=7"

        # HTTP activation in password mode: id + password, 204, then 409 once taken
        url = "http://127.0.0.1:%d/provision/activate" % conn.http_port
        body = ("id=pw-http&password=" + PASSWORD).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=body)) as r:
            assert r.status == 204
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=body))
        assert e.value.code == 409
        c = RawClient(conn.mqtt_port)
        assert c.connect(username="pw-http", password=PASSWORD) == (0, 0)
        c.disconnect()


def test_certificate_auth(tmp_path):
    with running_connector(tmp_path, auth="cert") as conn:
        cert = pki.make_client_cert(str(tmp_path / "certs"), conn.pki, "cert-device")
        c = RawClient(conn.mqtts_port, tls=tls_context(conn, cert))
        assert c.connect() == (0, 0)
        c.publish("$resource/data_in", "from cert", qos=1)
        c.read()
        c.disconnect()
        assert conn.get_resource("cert-device", "data_in") == "from cert"
        assert [d["auth"] for d in conn.devices() if d["id"] == "cert-device"] == ["cert"]

        # "The ClientID must always be set as empty." (not even the identity itself)
        c = RawClient(conn.mqtts_port, tls=tls_context(conn, cert))
        assert c.connect(client_id="someone")[1] == 2
        c = RawClient(conn.mqtts_port, tls=tls_context(conn, cert))
        assert c.connect(client_id="cert-device")[1] == 2
        # no certificate, no access; anonymous provisioning does not exist here
        c = RawClient(conn.mqtts_port, tls=tls_context(conn))
        assert c.connect()[1] == 5
        c = RawClient(conn.mqtt_port)
        assert c.connect(password="x" * 40)[1] == 5

        # a certificate from another CA is rejected during the handshake
        other = pki.ensure_pki(str(tmp_path / "other-pki"))
        bad = pki.make_client_cert(str(tmp_path / "other-certs"), other, "cert-device")
        with pytest.raises((ssl.SSLError, OSError, Closed)):
            c = RawClient(conn.mqtts_port, tls=tls_context(conn, bad))
            c.connect()

        # HTTPS device API with the same client certificate
        req = urllib.request.Request(
            "https://127.0.0.1:%d/onep:v1/stack/alias?data_in" % conn.https_port)
        with urllib.request.urlopen(req, context=tls_context(conn, cert)) as r:
            assert r.read() == b"data_in=from+cert"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=tls_context(conn))
        assert e.value.code == 401


def test_cli_help_and_default_command():
    from uedge_connector.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.mqtt_port, args.mqtts_port, args.https_port, args.http_port,
            args.admin_port) == (1883, 8883, 8443, 8080, 8090)
    assert args.auth == "token" and args.host == "127.0.0.1" and not args.no_self_register
    args = build_parser().parse_args(["serve", "--mqtt-port", "off", "--auth", "cert",
                                      "--whitelist", "a,b", "--no-self-register"])
    assert args.mqtt_port is None and args.auth == "cert" and args.no_self_register
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["serve", "--auth", "magic"])
    assert e.value.code == 2


def test_whitelist_without_self_registration(tmp_path):
    with running_connector(tmp_path, whitelist=["wl-1"], self_register=False) as conn:
        c = RawClient(conn.mqtt_port)
        c.connect()
        c.publish("$provision/not-listed", b"", qos=1)
        assert c.is_closed()
        assert [d["id"] for d in conn.devices()] == ["wl-1"]

        c = RawClient(conn.mqtt_port)
        c.connect()
        c.publish("$provision/wl-1", b"", qos=1)
        topic, token, _q, _r = c.wait_message("$provision/")
        assert topic == "$provision/wl-1" and len(token) == 40
        c.disconnect()

        # HTTP activation: unknown identity -> 404, whitelisted later -> 200
        url = "http://127.0.0.1:%d/provision/activate" % conn.http_port
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=b"id=wl-2"))
        assert e.value.code == 404
        conn.whitelist(["wl-2"])
        with urllib.request.urlopen(urllib.request.Request(url, data=b"id=wl-2")) as r:
            assert len(r.read()) == 40

        # a reset identity may provision again
        conn.reset("wl-1")
        c = RawClient(conn.mqtt_port)
        c.connect()
        c.publish("$provision/wl-1", b"", qos=1)
        assert c.wait_message("$provision/")[1] != token
        c.disconnect()
