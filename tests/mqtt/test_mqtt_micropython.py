"""The same client under the MicroPython unix port, against mosquitto."""

import time

from mqtt_helpers import FakeServer, oversized_publish_handler, read_packet, run_mpy

from peers.mosquitto import make_pki, running_mosquitto


def test_mpy_pubsub_qos1_keepalive_plain(broker, peer):
    rc, out, err = run_mpy("mpy_client.py", "pubsub", broker.host, broker.port)
    assert rc == 0, err
    assert out == ["CONNECTED False", "SUBACK 0", "ACKED True True", "LOOPBACK True", "ALIVE True", "DONE"]
    assert peer.wait_for(lambda m: m[0] == "mpy/out/q0" and m[1] == b"zero")
    assert peer.wait_for(lambda m: m[0] == "mpy/out/q1" and m[1] == b"one" and m[2] == 1)
    assert "Received PINGREQ from mpy-pubsub" in broker.log()


def test_mpy_pubsub_over_tls_with_sni(broker, peer):
    for host in ("localhost", "127.0.0.1"):
        rc, out, err = run_mpy("mpy_client.py", "pubsub", host, broker.tls_port, broker.ca_path)
        assert rc == 0, err
        assert out[-1] == "DONE" and "ACKED True True" in out and "ALIVE True" in out


def test_mpy_tls_rejects_wrong_ca_and_wrong_name(broker, tmp_path):
    other = make_pki(str(tmp_path / "other"))
    rc, out, err = run_mpy("mpy_client.py", "tlsfail", "localhost", broker.tls_port, other["ca_cert"])
    assert rc == 0, err
    assert out[0].startswith("TLSFAIL MQTTException TLS handshake with localhost failed"), out
    assert "not correctly signed by the trusted CA" in out[0]
    rc, out, err = run_mpy("mpy_client.py", "tlsfail", "127.0.0.1", broker.tls_port, broker.ca_path, "wrong.example")
    assert out[0].startswith("TLSFAIL MQTTException TLS handshake"), out
    assert "does not match" in out[0]


def test_mpy_garbage_server_gives_clear_error():
    def handler(srv, conn):
        read_packet(conn)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(1)

    srv = FakeServer(handler)
    try:
        t = time.time()
        rc, out, err = run_mpy("mpy_client.py", "garbage", srv.port)
        assert rc == 0, err
        assert out[0].startswith("ERR expected CONNACK"), out
        assert time.time() - t < 10
    finally:
        srv.close()



def test_mpy_oversized_publish_is_skipped():
    srv = FakeServer(oversized_publish_handler)
    try:
        rc, out, err = run_mpy("mpy_client.py", "oversize", srv.port)
        assert rc == 0, err
        assert out == ["OVERSIZE $resource/config_io/1700000000000000 1048576", "MSG t/s small",
                       "CONNECTED True"], out
        deadline = time.time() + 5  # the server thread records the PUBACK after reading it
        while not srv.received and time.time() < deadline:
            time.sleep(0.05)
        assert srv.received and srv.received[0] == (0x40, b"\x00\x07")
    finally:
        srv.close()


def test_mpy_wrong_password_not_authorized(tmp_path):
    with running_mosquitto(tmp_path / "m", users={"dev1": "right-password-123456789"}) as b:
        rc, out, err = run_mpy("mpy_client.py", "auth", b.host, b.port, "dev1", "wrong-password-xxxxxxxxxx")
        assert rc == 0, err
        assert out[0].startswith("AUTHERR not authorized"), out
        rc, out, err = run_mpy("mpy_client.py", "auth", b.host, b.port, "dev1", "right-password-123456789")
        assert out == ["CONNECTED"]


def test_mpy_client_certificate(tmp_path):
    from mqtt_helpers import PahoPeer

    from peers.mosquitto import make_client_cert

    with running_mosquitto(tmp_path / "m", client_certs=True) as b:
        cert, key = make_client_cert(str(tmp_path / "client"), b.pki, "cert-device")
        peer = PahoPeer(b.host, b.port)
        try:
            rc, out, err = run_mpy("mpy_client.py", "cert", "localhost", b.cert_port, b.ca_path, cert, key)
            assert rc == 0, err
            assert out == ["CONNECTED False", "ACKED True True"]
            assert peer.wait_for(lambda m: m[0] == "$resource/data_in" and m[1] == b"by-cert")
        finally:
            peer.close()
