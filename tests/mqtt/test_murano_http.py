"""uedge.murano_http.MuranoHTTP against a real (tiny) HTTP server, cross-checked with murano-client."""

import os
import ssl
import stat
import time
from urllib.parse import parse_qsl

import pytest
from httpdev import TOKEN, DeviceAPI

from peers.mosquitto import make_pki
from uedge.transport.link import STATE_READ
from uedge.transport.link import AuthError, MuranoError
from uedge.transport.murano_http import MuranoHTTP


@pytest.fixture
def api():
    a = DeviceAPI()
    yield a
    a.close()


def make(api, tmp_path, **kw):
    kw.setdefault("tls", False)
    kw.setdefault("device_id", "0001")
    kw.setdefault("credentials_path", str(tmp_path / "token"))
    kw.setdefault("long_poll_ms", 2000)
    return MuranoHTTP("127.0.0.1", api.port, **kw)


def pump(m, cond, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = time.time()
        m.poll()
        assert time.time() - t < 0.5, "poll() blocked"
        if cond():
            return True
        time.sleep(0.005)
    return False


def last(api, method, path):
    """The newest recorded request with this method and path (the server is
    threaded, so our own client's long poll may be recorded after it)."""
    return [q for q in api.requests if q["method"] == method and q["path"] == path][-1]


def official(api):
    from murano_client.http import MuranoHTTP as Official

    return Official(murano_host="http://127.0.0.1:%d/" % api.port, murano_id="0001", form_encode=True)


def test_activation_write_record_match_the_official_client(api, tmp_path):
    m = make(api, tmp_path)
    m.provision()
    assert (tmp_path / "token").read_text() == TOKEN
    assert stat.S_IMODE(os.stat(tmp_path / "token").st_mode) == 0o600
    ours = last(api, "POST", "/provision/activate")
    off = official(api)
    api.activated.clear()
    off.http_activate()
    theirs = last(api, "POST", "/provision/activate")
    assert off.murano_token() == TOKEN
    assert (ours["method"], ours["path"]) == (theirs["method"], theirs["path"]) == ("POST", "/provision/activate")
    assert parse_qsl(ours["body"].decode()) == parse_qsl(theirs["body"].decode()) == [("id", "0001")]
    assert ours["headers"]["Content-Type"] == theirs["headers"]["Content-Type"]

    acks = []
    m.on_ack = acks.append
    m.connect()
    a = m.write("data_in", '{"001": 73.1, "x": "a&b=c"}')
    r = m.record([(1700000000123456, {"data_in": '{"001":1}'}), (1700000005000000, {"data_in": '{"001":2}'})])
    assert pump(m, lambda: acks == [a, r])
    w_ours = last(api, "POST", "/onep:v1/stack/alias")
    rec_ours = last(api, "POST", "/onep:v1/stack/record")

    off.http_write_multiple({"data_in": '{"001": 73.1, "x": "a&b=c"}'})
    w_theirs = last(api, "POST", "/onep:v1/stack/alias")
    off.http_record({"data_in": {1700000000: '{"001":1}', 1700000005: '{"001":2}'}})
    rec_theirs = last(api, "POST", "/onep:v1/stack/record")
    for o, t in ((w_ours, w_theirs), (rec_ours, rec_theirs)):
        assert o["path"] == t["path"]
        assert o["headers"]["X-Exosite-CIK"] == t["headers"]["X-Exosite-CIK"] == TOKEN
        assert o["headers"]["Content-Type"] == t["headers"]["Content-Type"]
        assert parse_qsl(o["body"].decode()) == parse_qsl(t["body"].decode())
    # one keep-alive connection carried the connect-time reads and both posts
    assert w_ours["conn"] == rec_ours["conn"]
    m.close()


def test_already_activated_is_a_clear_error(api, tmp_path):
    api.activated.add("0001")
    m = make(api, tmp_path)
    with pytest.raises(MuranoError, match="already activated"):
        m.provision()


def test_long_poll_delivers_updates_without_blocking(api, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    api.values["config_io"] = '{"channels":{}}'
    m = make(api, tmp_path)
    got = []
    m.on_update = lambda alias, value, ts: got.append((alias, value, ts))
    m.connect()
    assert got == [("config_io", '{"channels":{}}', STATE_READ)]  # initial read: the current state
    pump(m, lambda: False, 0.3)  # long poll in flight, nothing changed
    api.set_value("data_out", '{"002": 1}')
    assert pump(m, lambda: len(got) >= 2)
    # a change: stamped with the answer's Last-Modified (µs), not STATE_READ
    changes = [(a, v) for a, v, ts in got if ts not in (None, STATE_READ) and ts % 1000000 == 0]
    assert ("data_out", '{"002": 1}') in changes
    lp = [q for q in api.requests if "Request-Timeout" in q["headers"]][-1]
    assert lp["path"] == "/onep:v1/stack/alias?config_io&data_out&config_applications"
    assert lp["headers"]["Request-Timeout"] == "2000"
    assert lp["headers"]["If-Modified-Since"].isdigit()
    # the official client's long poll has the same shape
    off = official(api)
    off.set_murano_token(TOKEN)
    r = off.http_long_poll(["config_io", "data_out", "config_applications"], 300, modify_ts=0)
    assert r.code == 304
    theirs = api.requests[-1]
    assert theirs["path"] == lp["path"]
    assert set(theirs["headers"]) >= {"Request-Timeout", "If-Modified-Since", "X-Exosite-CIK", "Accept"}
    assert set(lp["headers"]) >= {"Request-Timeout", "If-Modified-Since", "X-Exosite-CIK", "Accept"}
    # a 304 (timeout) simply restarts the poll
    pump(m, lambda: False, 2.5)
    assert m.connected
    m.close()


def test_wrong_token_is_not_authorized_and_backs_off(api, tmp_path):
    (tmp_path / "token").write_text("0" * 40)
    from uedge.compat import FakeClock

    clock = FakeClock()
    m = make(api, tmp_path, clock=clock, auth_backoff_ms=5000)
    with pytest.raises(AuthError, match="not authorized"):
        m.connect()
    states = []
    m.on_state = lambda up, why: states.append(clock.now_ms())
    for _ in range(600):  # one simulated minute
        clock.advance(100)
        m.poll()
    assert 3 <= len(states) <= 12
    assert all(b - a >= 5000 for a, b in zip(states, states[1:]))


def test_server_closed_keepalive_is_reopened(api, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    m = make(api, tmp_path, watch=())
    acks = []
    m.on_ack = acks.append
    m.connect()
    api.drop_idle = True
    ids = [m.write("data_in", str(i)) for i in range(3)]
    assert pump(m, lambda: acks == ids)
    posts = [q for q in api.requests if q["method"] == "POST"]
    assert [q["body"] for q in posts] == [b"data_in=0", b"data_in=1", b"data_in=2"]
    assert m.connected
    m.close()


def test_https_verifies_ca_and_downloads_content(tmp_path):
    pki = make_pki(str(tmp_path / "pki"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    api = DeviceAPI(tls_context=ctx)
    try:
        (tmp_path / "token").write_text(TOKEN)
        m = MuranoHTTP("localhost", api.port, "0001", credentials_path=str(tmp_path / "token"),
                       ca=pki["ca_cert"], long_poll_ms=1000)
        m.connect()
        items = m.content_list()
        assert items == [{"name": "fw.bin", "length": 1000, "mime": "application/octet-stream",
                          "url": "https://localhost:%d/provision/download?id=fw.bin" % api.port}]
        chunks = []
        n = m.content_get("fw.bin", chunks.append)
        assert n == 1000 and b"".join(chunks) == api.content["fw.bin"][0]
        m.close()
        other = make_pki(str(tmp_path / "other"))
        bad = MuranoHTTP("localhost", api.port, "0001", credentials_path=str(tmp_path / "token"),
                         ca=other["ca_cert"])
        with pytest.raises(MuranoError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            bad.connect()
    finally:
        api.close()
