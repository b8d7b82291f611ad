"""The dashboard over plain HTTP: auth rules (token, login, cookie, Host and
Origin checks), the JSON it serves, uedge's validator messages, control checks
and CSV, against a real connector and a raw MQTT device."""

import http.client
import json
import os
import sys
import urllib.parse

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "connector"))

from rawmqtt import RawClient  # noqa: E402
from uedge.config.config_io import parse_config_io  # noqa: E402
from uedge.config.json_reader import ConfigError  # noqa: E402
from uedge_connector.testing import running_connector  # noqa: E402

CONFIG = {
    "last_edited": "2026-01-01T00:00:00+00:00",
    "channels": {
        "001": {"display_name": "Temperature",
                "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "precision": 1}},
        "002": {"display_name": "Set Point",
                "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "control": True},
                "control_properties": {"range": {"min": 10, "max": 30}}},
        "003": {"display_name": "Mode", "properties": {"data_type": "STRING", "control": True},
                "control_properties": {"enum": ["auto", "manual"]}},
        "004": {"display_name": "Valve", "properties": {"data_type": "BOOLEAN", "control": True}},
    },
}


class Web:
    """A tiny browser-like HTTP client: keeps the session cookie, sends Host/Origin."""

    def __init__(self, port):
        self.port = port
        self.cookie = None

    def req(self, method, path, body=None, headers=None, cookie=True, origin=False):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if cookie and self.cookie:
            h["Cookie"] = self.cookie
        if origin:
            h["Origin"] = "http://127.0.0.1:%d" % self.port
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("dash"), admin_token=True) as c:
        c.token_value = c.admin.token
        tok = provision(c, "dev1")
        c.set_resource("dev1", "config_io", json.dumps(CONFIG))
        dev = RawClient(c.mqtt_port)
        assert dev.connect(client_id="dev1", password=tok)[1] == 0
        c.dev = dev
        yield c
        dev.disconnect()


def provision(conn, device_id):
    c = RawClient(conn.mqtt_port)
    assert c.connect()[1] == 0
    c.subscribe("$provision/" + device_id)
    c.publish("$provision/" + device_id, b"", qos=1)
    topic, token, _qos, _r = c.wait_message("$provision/")
    c.close()
    return token.decode()


def publish(conn, payload, alias="data_in"):
    """QoS 1 publish; returns once the connector acknowledged (committed) it."""
    conn.dev.publish("$resource/" + alias, json.dumps(payload) if not isinstance(payload, str)
                     else payload, qos=1)
    while conn.dev.read()[0] != 4:  # skip pushed updates until the PUBACK
        pass


def login(conn):
    web = Web(conn.admin_port)
    path = conn.admin.request("POST", "/api/dashboard/login-link")["path"]
    status, h, _ = web.req("GET", path)
    assert status == 303 and h["location"] == "/dashboard/"
    web.cookie = h["set-cookie"].split(";")[0]
    return web, h["set-cookie"]


def test_page_needs_login_and_a_one_time_link_logs_in_once(conn):
    web = Web(conn.admin_port)
    status, h, _ = web.req("GET", "/dashboard/")
    assert status == 303 and h["location"] == "/dashboard/login"
    status, _, body = web.req("GET", "/api/dashboard/overview")
    assert status == 401
    path = conn.admin.request("POST", "/api/dashboard/login-link")["path"]
    status, h, _ = web.req("GET", path)
    assert status == 303
    cookie = h["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert conn.token_value not in cookie
    status, _, body = web.req("GET", path)  # used already
    assert status == 401 and b"used already" in body
    web.cookie = cookie.split(";")[0]
    status, h, body = web.req("GET", "/dashboard/")
    assert status == 200 and b"<svg id=\"chart\"" in body
    assert "script-src 'self'" in h["content-security-policy"]


def test_login_form_takes_the_admin_token_and_nothing_else(conn):
    web = Web(conn.admin_port)
    status, _, body = web.req("GET", "/dashboard/login")
    assert status == 200 and b'name="token"' in body and b"admin.token" in body
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    origin = {"Origin": "http://127.0.0.1:%d" % conn.admin_port}
    status, h, body = web.req("POST", "/dashboard/login", "token=wrong", dict(form, **origin))
    assert status == 401 and "set-cookie" not in h and b"Wrong admin token" in body
    status, h, _ = web.req("POST", "/dashboard/login",
                           "token=" + urllib.parse.quote(conn.token_value), dict(form, **origin))
    assert status == 303 and h["set-cookie"].startswith("uedge_dash=")
    web.cookie = h["set-cookie"].split(";")[0]
    assert web.req("GET", "/api/dashboard/overview")[0] == 200
    status, h, _ = web.req("POST", "/dashboard/logout", headers=origin)
    assert status == 303
    assert web.req("GET", "/api/dashboard/overview")[0] == 401  # the session is gone
    assert conn.token_value not in conn.log_text()


def test_cookie_writes_need_same_origin_and_host_must_be_loopback(conn):
    web, _ = login(conn)
    body = {"channel": "002", "value": 20}
    # no Origin (not what a browser sends for a write): refused
    assert web.req("POST", "/api/dashboard/devices/dev1/control", body)[0] == 401
    # another site's Origin: refused, cookie or not
    status, _, _ = web.req("POST", "/api/dashboard/devices/dev1/control", body,
                           {"Origin": "http://evil.example"})
    assert status == 403
    # a DNS-rebinding Host: refused even for reads
    assert web.req("GET", "/api/dashboard/overview", headers={"Host": "evil.example:80"})[0] == 403
    status, _, data = web.req("POST", "/api/dashboard/devices/dev1/control", body, origin=True)
    assert status == 200 and json.loads(data)["ok"]
    # the Bearer token keeps working for the CLI (no Origin)
    assert conn.admin.request("GET", "/api/dashboard/overview")["devices"]


def test_overview_and_device_view_show_state_channels_and_errors(conn):
    publish(conn, {"001": 21.5, "__error": {"001": "sensor open circuit", "config_io": "bad"}})
    publish(conn, {"001": 21.7, "002": 20})
    web, _ = login(conn)
    ov = json.loads(web.req("GET", "/api/dashboard/overview")[2])
    d = [x for x in ov["devices"] if x["id"] == "dev1"][0]
    assert d["provisioned"] and d["connected"] == 1 and d["auth"] == "token"
    assert d["last_seen_us"] and d["reports"] >= 2 and d["points"] >= 3
    v = json.loads(web.req("GET", "/api/dashboard/devices/dev1")[2])
    chans = {c["id"]: c for c in v["channels"]}
    assert chans["001"]["display_name"] == "Temperature"
    assert chans["001"]["data_unit"] == "DEG_CELSIUS"
    assert chans["001"]["latest"]["value"] == 21.7
    assert chans["001"]["error"]["message"] == "sensor open circuit"
    assert chans["002"]["range"] == {"min": 10, "max": 30}
    assert chans["003"]["enum"] == ["auto", "manual"]
    assert [e["key"] for e in v["device_errors"]] == ["config_io"]
    # reports are data_in payloads, points the channel values in them
    assert v["data_in"]["reports"] - v["data_in"]["points"] < 0


def test_series_and_csv(conn):
    for i in range(5):
        publish(conn, {"001": 30 + i, "004": i % 2 == 0})
    web, _ = login(conn)
    s = json.loads(web.req("GET", "/api/dashboard/devices/dev1/series?channels=001,004")[2])
    vals = [p[1] for p in s["series"]["001"]]
    assert vals[-5:] == [30, 31, 32, 33, 34]
    assert [p[1] for p in s["series"]["004"]][-5:] == [1, 0, 1, 0, 1]  # booleans as 0/1
    assert s["errors"]["001"][0][1] == "sensor open circuit"
    later = json.loads(web.req("GET", "/api/dashboard/devices/dev1/series?channels=001&since=%d"
                               % (s["until_us"] + 1))[2])
    assert later["series"]["001"] == []
    status, h, body = web.req("GET", "/api/dashboard/devices/dev1/csv?channel=001")
    assert status == 200 and h["content-type"].startswith("text/csv")
    assert 'filename="dev1_001.csv"' in h["content-disposition"]
    lines = body.decode().splitlines()
    assert lines[0] == "time_utc,ts_us,value,error"
    assert lines[-1].split(",")[2] == "34"
    assert any(ln.endswith(",sensor open circuit") for ln in lines)


def test_validate_uses_uedges_validator_messages(conn):
    web, _ = login(conn)
    bad = json.loads(json.dumps(CONFIG))
    bad["channels"]["002"]["control_properties"]["range"] = {"min": 40, "max": 30}
    text = json.dumps(bad)
    with pytest.raises(ConfigError) as exc:
        parse_config_io(text)
    status, _, data = web.req("POST", "/api/dashboard/validate/config_io", text, origin=True)
    res = json.loads(data)
    assert status == 200 and res["ok"] is False and res["error"] == str(exc.value)
    assert "channel 002: control_properties.range" in res["error"]
    before = conn.history("dev1", "config_io")
    status, _, data = web.req("PUT", "/api/dashboard/devices/dev1/config/config_io", text, origin=True)
    assert status == 422 and json.loads(data)["error"] == str(exc.value)
    assert conn.history("dev1", "config_io") == before  # nothing stored, nothing pushed
    apps = '{"applications": {"Modbus_RTU": {"interfaces": [{"interface": "/dev/ttyS0", "baud_rate": 1234}]}}}'
    res = json.loads(web.req("POST", "/api/dashboard/validate/config_applications", apps, origin=True)[2])
    assert res["ok"] is False and "baud_rate" in res["error"]
    good = apps.replace("1234", "9600")
    status, _, data = web.req("PUT", "/api/dashboard/devices/dev1/config/config_applications", good,
                              origin=True)
    assert status == 200 and json.loads(data)["ok"]
    assert conn.get_resource("dev1", "config_applications") == good
    topic, payload, _q, _r = conn.dev.wait_message("$resource/config_applications/")
    assert payload.decode() == good


@pytest.mark.parametrize("channel,value,message", [
    ("002", 31, "channel 002: 31 is above control_properties.range.max 30"),
    ("002", 9.5, "channel 002: 9.5 is below control_properties.range.min 10"),
    ("002", "warm", 'channel 002: expected a number, got "warm"'),
    ("003", "off", 'channel 003: "off" is not one of auto, manual'),
    ("004", "maybe", 'channel 004: expected a boolean, got "maybe"'),
    ("001", 5, "channel 001 is not a control channel"),
    ("099", 5, "channel 099 is not in config_io"),
])
def test_control_requests_are_checked_before_data_out(conn, channel, value, message):
    web, _ = login(conn)
    before = conn.history("dev1", "data_out")
    status, _, data = web.req("POST", "/api/dashboard/devices/dev1/control",
                              {"channel": channel, "value": value}, origin=True)
    res = json.loads(data)
    assert status == 422 and res["error"].startswith(message)
    assert conn.history("dev1", "data_out") == before


def test_control_round_trip_reports_ack_and_echo(conn):
    web, _ = login(conn)
    status, _, data = web.req("POST", "/api/dashboard/devices/dev1/control",
                              {"channel": "002", "value": 25}, origin=True)
    res = json.loads(data)
    assert status == 200 and res["data_out"] == '{"002": 25}'
    topic, payload, _q, _r = conn.dev.wait_message("$resource/data_out/")
    assert payload.decode() == '{"002": 25}'
    q = "/api/dashboard/devices/dev1/control?ts=%d&channel=002" % res["ts_us"]
    st = json.loads(web.req("GET", q)[2])
    assert st["sent"] == '{"002": 25}' and st["ack"] is None and st["echo"] is None
    publish(conn, payload.decode(), "data_out")  # the device's ack
    publish(conn, {"002": 25})  # and its new state
    st = json.loads(web.req("GET", q)[2])
    assert st["ack"]["value"] == '{"002": 25}'
    assert st["echo"]["value"] == 25 and st["echo"]["matches"] is True


def test_missing_chromium_fails_loudly_unless_a_skip_is_asked_for(tmp_path, monkeypatch):
    from dash_helpers import chromium_driver

    monkeypatch.setenv("UEDGE_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("UEDGE_SKIP_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        chromium_driver(str(tmp_path / "p"))
    monkeypatch.setenv("UEDGE_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception):
        chromium_driver(str(tmp_path / "p"))
