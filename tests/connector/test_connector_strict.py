"""The connector is seed-strict by default; each extension flag switches one
behaviour beyond the Murano documents on, and only that one.

Peers: rawmqtt (packets byte for byte) and paho-mqtt for MQTT, http.client for
the HTTP device API. Every test runs against a strict connector and, where a
flag exists, against one started with that flag alone.
"""

import base64
import http.client
import json
import queue
import time
import urllib.parse

import paho.mqtt.client as mqtt
import pytest
from rawmqtt import RawClient
from uedge_connector.hub import EXTENSIONS
from uedge_connector.testing import running_connector

FLAGS = {name: flag for name, (flag, _text) in EXTENSIONS.items()}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("strict")) as c:
        yield c


_flagged = {}


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    """flagged(name) -> a connector started with that one extension flag."""
    started = []

    def get(name):
        if name not in _flagged:
            cm = running_connector(tmp_path_factory.mktemp(name), extra_args=[FLAGS[name]])
            _flagged[name] = cm.__enter__()
            started.append(cm)
        return _flagged[name]

    yield get
    for cm in started:
        cm.__exit__(None, None, None)
    _flagged.clear()


# -- helpers -----------------------------------------------------------------------
def provision(conn, device_id):
    c = RawClient(conn.mqtt_port)
    assert c.connect() == (0, 0)
    c.publish("$provision/" + device_id, b"", qos=1)
    topic, token, _qos, _r = c.wait_message("$provision/")
    assert topic == "$provision/" + device_id
    c.disconnect()
    return token.decode()


def device(conn, token, **kw):
    c = RawClient(conn.mqtt_port)
    _sp, rc = c.connect(password=token, **kw)
    assert rc == 0
    return c


def http_req(conn, token, method, path, body=None, headers=None, timeout=15):
    h = http.client.HTTPConnection("127.0.0.1", conn.http_port, timeout=timeout)
    hdrs = {"X-Exosite-CIK": token}
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    hdrs.update(headers or {})
    h.request(method, path, body=body, headers=hdrs)
    r = h.getresponse()
    out = (r.status, r.read().decode(), dict(r.getheaders()))
    h.close()
    return out


def long_poll(conn, token, aliases, timeout_ms, since=None):
    headers = {"Request-Timeout": str(timeout_ms)}
    if since is not None:
        headers["If-Modified-Since"] = str(since)
    path = "/onep:v1/stack/alias?" + "&".join(urllib.parse.quote_plus(a) for a in aliases)
    return http_req(conn, token, "GET", path, headers=headers, timeout=timeout_ms / 1000 + 10)


def write(conn, token, **values):
    st, _b, _h = http_req(conn, token, "POST", "/onep:v1/stack/alias",
                          urllib.parse.urlencode(values))
    assert st == 204


def wait_next_second():
    """Until the wall clock has passed into the next whole second."""
    s = int(time.time())
    while int(time.time()) == s:
        time.sleep(0.02)
    return int(time.time())


# -- startup -----------------------------------------------------------------------
def test_strict_by_default_and_flags_reported(strict, flagged):
    assert strict.info["extensions"] == []
    assert "seed-strict" in strict.log_text()
    assert strict.admin.status()["extensions"] == []
    c = flagged("resend_on_connect")
    assert c.info["extensions"] == ["resend_on_connect"]
    assert "extensions: resend_on_connect" in c.log_text()


def test_all_extensions_flag(tmp_path):
    with running_connector(tmp_path, extra_args=["--all-extensions"]) as c:
        assert c.info["extensions"] == sorted(EXTENSIONS)


# -- MQTT: only a QoS 0 PUBLISH on a state change ---------------------------------
def test_change_made_offline_is_not_sent_on_connect(strict):
    token = provision(strict, "off-1")
    c = device(strict, token)
    c.disconnect()
    strict.set_resource("off-1", "config_io", '{"channels": {"1": {}}}')
    strict.set_resource("off-1", "data_out", '{"004": true}')
    c = device(strict, token)
    assert c.subscribe("$resource/#", "$resource/config_io") == [0, 0]
    # nothing on CONNACK, nothing on SUBSCRIBE (no retained-like replay)
    assert c.messages(1.0) == []
    # a change while connected is pushed, QoS 0, on $resource/<alias>/<ts_us>
    ts = strict.set_resource("off-1", "config_io", '{"channels": {}}')
    topic, payload, qos, _retain = c.wait_message("$resource/")
    assert (topic, payload, qos) == ("$resource/config_io/%d" % ts, b'{"channels": {}}', 0)
    c.disconnect()


def test_resend_on_connect_flag(flagged):
    conn = flagged("resend_on_connect")
    token = provision(conn, "off-2")
    c = device(conn, token)
    c.disconnect()
    ts1 = conn.set_resource("off-2", "config_io", '{"channels": {"1": {}}}')
    ts2 = conn.set_resource("off-2", "data_out", '{"004": true}')
    c = device(conn, token)
    got = [(m[0], m[1]) for m in c.messages(1.0)]
    assert got == [("$resource/config_io/%d" % ts1, b'{"channels": {"1": {}}}'),
                   ("$resource/data_out/%d" % ts2, b'{"004": true}')]
    # written back by the device: no longer re-sent
    c.publish("$resource/data_out", '{"004": true}', qos=1)
    c.publish("$resource/config_io", '{"channels": {"1": {}}}', qos=1)
    c.ping()
    c.disconnect()
    c = device(conn, token)
    assert c.messages(0.7) == []
    c.disconnect()


def test_same_value_set_again_is_pushed_again(strict):
    """A new ExoSense-side point is a state change even with the same value."""
    token = provision(strict, "same")
    got = queue.Queue()
    p = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
    p.username_pw_set("", token)
    p.on_message = lambda c, u, m: got.put((m.topic, m.payload.decode(), m.qos))
    connected = queue.Queue()
    p.on_connect = lambda c, u, f, rc, props: connected.put(rc)
    p.connect("127.0.0.1", strict.mqtt_port, 30)
    p.loop_start()
    try:
        assert str(connected.get(timeout=10)) == "Success"
        ts1 = strict.set_resource("same", "data_out", '{"004": 1}')
        ts2 = strict.set_resource("same", "data_out", '{"004": 1}')
        assert got.get(timeout=5) == ("$resource/data_out/%d" % ts1, '{"004": 1}', 0)
        assert got.get(timeout=5) == ("$resource/data_out/%d" % ts2, '{"004": 1}', 0)
    finally:
        p.disconnect()
        p.loop_stop()


def test_reserved_filters_are_the_seeds_list(strict):
    c = device(strict, provision(strict, "filters"))
    assert c.subscribe("$resource/#", "$resource/+", "$resource/data_out", "$resource.batch",
                       "$content", "$provision/filters") == [0] * 6
    assert c.subscribe("$resource/data_out/+", "$resource/+/+", "$resource/a/b") == [0x80] * 3
    c.disconnect()


# -- MQTT: values are strings ---------------------------------------------------------
def test_non_string_values_refused(strict):
    c = device(strict, provision(strict, "vals"))
    c.publish("$resource/", json.dumps({"data_in": {"001": 1}, "config_io": "{}"}), qos=1)
    c.publish("$resource.batch", json.dumps(
        [{"timestamp": 1531111131679000, "values": {"data_in": {"001": 2}}}]), qos=1)
    c.publish("$resource/", json.dumps({"data_in": '{"001": 3}'}), qos=1)
    c.ping()
    assert [v for _t, v in strict.history("vals", "data_in")] == ['{"001": 3}']
    assert strict.get_resource("vals", "config_io") is None  # the whole message is refused
    assert "value of data_in is a JSON dict, not a string" in strict.log_text()
    c.disconnect()


def test_json_values_flag(flagged):
    conn = flagged("json_values")
    c = device(conn, provision(conn, "vals"))
    c.publish("$resource/", json.dumps({"data_in": {"001": 1}}), qos=1)
    c.publish("$resource.batch", json.dumps(
        [{"timestamp": 1531111131679000, "values": {"data_in": {"001": 2}}}]), qos=1)
    c.ping()
    hist = [v for _t, v in conn.history("vals", "data_in")]
    assert hist == ['{"001":2}', '{"001":1}']
    c.disconnect()


# -- HTTP long poll: If-Modified-Since ------------------------------------------------
def activate(conn, device_id):
    h = http.client.HTTPConnection("127.0.0.1", conn.http_port, timeout=10)
    h.request("POST", "/provision/activate", body="id=" + device_id,
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = h.getresponse()
    token = r.read().decode()
    assert r.status == 200
    h.close()
    return token


def test_long_poll_if_modified_since_strict(strict):
    token = activate(strict, "poll-s")
    strict.set_resource("poll-s", "data_out", '{"004": 1}')
    after = wait_next_second()
    # set after second 0: returned at once, with Last-Modified
    st, body, headers = long_poll(strict, token, ["data_out"], 5000, since=0)
    assert (st, body) == (200, "data_out=" + urllib.parse.quote_plus('{"004": 1}'))
    assert "Last-Modified" in headers
    # the device writes it back (acknowledges): still "modified since 0", no ack state
    write(strict, token, data_out='{"004": 1}')
    assert long_poll(strict, token, ["data_out"], 5000, since=0)[0] == 200
    # not modified since a later second: the poll waits, 304 at the timeout
    assert long_poll(strict, token, ["data_out"], 300, since=after)[0] == 304
    # without If-Modified-Since ("defaults to now"): waits too
    assert long_poll(strict, token, ["data_out"], 300)[0] == 304
    # one-second resolution, as Last-Modified: a value set during second S is not
    # "modified since S", it is since S - 1
    ts = strict.set_resource("poll-s", "config_io", "{}")
    s = ts // 1000000
    assert long_poll(strict, token, ["config_io"], 300, since=s)[0] == 304
    assert long_poll(strict, token, ["config_io"], 300, since=s - 1)[:2] == (200, "config_io=%7B%7D")
    # a device-side write does not count as an ExoSense-side change
    write(strict, token, config_applications="{}")
    assert long_poll(strict, token, ["config_applications"], 300, since=0)[0] == 304


def test_long_poll_several_aliases_returns_each_changed_one(strict):
    token = activate(strict, "poll-m")
    strict.set_resource("poll-m", "config_io", '{"a": 1}')
    strict.set_resource("poll-m", "data_out", '{"b": 2}')
    st, body, _h = long_poll(strict, token, ["config_io", "data_out", "config_applications"],
                             300, since=0)
    assert st == 200
    assert urllib.parse.parse_qsl(body) == [("config_io", '{"a": 1}'), ("data_out", '{"b": 2}')]


def test_poll_unacked_flag(flagged):
    conn = flagged("poll_unacked")
    token = activate(conn, "poll-u")
    conn.set_resource("poll-u", "data_out", '{"004": 1}')
    assert long_poll(conn, token, ["data_out"], 5000, since=0)[0] == 200
    write(conn, token, data_out='{"004": 1}')  # acknowledged: the poll waits again
    assert long_poll(conn, token, ["data_out"], 300, since=0)[0] == 304


# -- HTTP record: whole seconds ---------------------------------------------------------
def test_record_whole_seconds_only(strict):
    token = activate(strict, "rec-s")
    st, _b, _h = http_req(strict, token, "POST", "/onep:v1/stack/record",
                          "alias=data_in&1700000000=a&1700000001=b")
    assert st == 204
    for bad in ("1700000002.5", "-1", "1.7e9"):
        st, body, _h = http_req(strict, token, "POST", "/onep:v1/stack/record",
                                "alias=data_in&%s=c" % bad)
        assert st == 400 and "whole seconds" in body
    assert strict.history("rec-s", "data_in") == [(1700000000000000, "a"),
                                                  (1700000001000000, "b")]


def test_record_subsecond_flag(flagged):
    conn = flagged("record_subsecond")
    token = activate(conn, "rec-f")
    st, _b, _h = http_req(conn, token, "POST", "/onep:v1/stack/record",
                          "alias=data_in&1700000002.5=c&1700000003000=d")
    assert st == 204
    assert conn.history("rec-f", "data_in") == [(1700000002500000, "c"),
                                                (1700000003000000, "d")]


def test_record_conflict_stores_nothing(strict):
    token = activate(strict, "rec-c")
    rec = "/onep:v1/stack/record"
    assert http_req(strict, token, "POST", rec, "alias=data_in&1700000000=a")[0] == 204
    # one point at a stored timestamp: 409 naming it, the other point not stored
    st, body, _h = http_req(strict, token, "POST", rec,
                            "alias=data_in&1700000000=b&1700000005=c&alias=config_io&1700000000=x")
    assert (st, body) == (409, "data_in=1700000000")
    # the same timestamp twice in one request is a conflict too
    st, body, _h = http_req(strict, token, "POST", rec, "alias=data_in&1700000007=d&1700000007=e")
    assert (st, body) == (409, "data_in=1700000007")
    assert strict.history("rec-c", "data_in") == [(1700000000000000, "a")]
    assert strict.history("rec-c", "config_io") == []
    # a record does not conflict with another alias's point at the same time
    assert http_req(strict, token, "POST", rec, "alias=config_io&1700000000=x")[0] == 204


def test_record_replace_flag(flagged):
    conn = flagged("record_replace")
    token = activate(conn, "rec-r")
    rec = "/onep:v1/stack/record"
    assert http_req(conn, token, "POST", rec, "alias=data_in&1700000000=a")[0] == 204
    assert http_req(conn, token, "POST", rec,
                    "alias=data_in&1700000000=b&1700000005=c&1700000005=d")[0] == 204
    assert conn.history("rec-r", "data_in") == [(1700000000000000, "b"), (1700000005000000, "d")]


# -- HTTP credentials ------------------------------------------------------------------
def test_http_credentials_in_x_exosite_cik_only(strict, flagged):
    token = activate(strict, "cred-s")
    write(strict, token, data_in="1")
    path = "/onep:v1/stack/alias?data_in"
    for hdr in ("token " + token, "Basic " + base64.b64encode((":" + token).encode()).decode()):
        h = http.client.HTTPConnection("127.0.0.1", strict.http_port, timeout=10)
        h.request("GET", path, headers={"Authorization": hdr})
        r = h.getresponse()
        assert (r.status, b"X-Exosite-CIK" in r.read()) == (401, True)
        h.close()
    conn = flagged("http_authorization")
    token = activate(conn, "cred-f")
    write(conn, token, data_in="1")
    h = http.client.HTTPConnection("127.0.0.1", conn.http_port, timeout=10)
    h.request("GET", path, headers={"Authorization": "token " + token})
    r = h.getresponse()
    assert (r.status, r.read()) == (200, b"data_in=1")
    h.close()


def test_single_alias_long_poll_option(tmp_path):
    with running_connector(tmp_path, extra_args=["--single-alias-long-poll"]) as conn:
        assert conn.info["single_alias_long_poll"] is True
        token = activate(conn, "single")
        st, body, _h = long_poll(conn, token, ["config_io", "data_out"], 300)
        assert st == 400 and "only one resource" in body
        assert long_poll(conn, token, ["data_out"], 300)[0] == 304
