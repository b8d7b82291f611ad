"""Drives the official murano-client package against a running connector and
prints what it observed as JSON. Run in its own process because importing
murano_client reconfigures the root logger and sys.excepthook.

usage: murano_client_driver.py SCENARIO CONFIG_JSON
CONFIG_JSON: {"https_port", "mqtts_port", "ca_path", "admin_url"}
"""

import json
import logging
import sys
import threading
import time
import warnings

warnings.simplefilter("ignore")

from murano_client import client as murano_client  # noqa: E402
from murano_client import http as murano_http  # noqa: E402
from murano_client import mqtt as murano_mqtt  # noqa: E402
from uedge_connector.admin import AdminClient  # noqa: E402

logging.getLogger().setLevel(logging.CRITICAL)
sys.excepthook = sys.__excepthook__


def https_api(cfg, device_id, **kw):
    return murano_http.MuranoHTTP(murano_host="https://localhost:%d/" % cfg["https_port"],
                                  murano_id=device_id, murano_cacert=cfg["ca_path"],
                                  http_timeout=20, **kw)


def https_basics(cfg, admin):
    out = {}
    api = https_api(cfg, "mc-http-1")
    api.http_activate()
    out["activated"] = api.is_activated()
    out["token_len"] = len(api.murano_token() or "")
    again = https_api(cfg, "mc-http-1")._http_activate()
    out["second_activation"] = [again.code, again.activated]
    w = api.http_write("data_in", '{"001": 1.5}')
    out["write"] = [w.code, w.success]
    r = api.http_read(["data_in"])
    out["read"] = [r.code, r.body]
    ts = 1700000000
    rec = api.http_record({"data_in": {ts: '{"001": 1}', ts + 1: '{"001": 2}'},
                           "config_io": {ts: '{"channels": {}}'}})
    out["record"] = [rec.code, rec.success]
    rec = api.http_record({"data_in": {ts + 1: '{"001": 3}', ts + 2: '{"001": 4}'}})
    out["record_again"] = [rec.code, rec.conflict,
                           rec.get_conflict_timestamps() if rec.conflict else None]
    bad = https_api(cfg, "mc-http-1", murano_token="0" * 40)
    out["bad_token_write"] = bad.http_write("data_in", "x").code
    out["timestamp"] = int(api.exosite_timestamp().text)
    return out


def https_long_poll(cfg, admin):
    out = {}
    api = https_api(cfg, "mc-poll")
    api.http_activate()
    out["idle"] = api.http_long_poll("config_io", 300).code
    threading.Timer(0.3, admin.set_resource,
                    ("mc-poll", "config_io", '{"channels": {"1": {}}}')).start()
    r = api.http_long_poll("config_io", 10000)
    out["released"] = [r.code, r.body, bool(r.response.headers.get("Last-Modified"))]
    r = api.http_long_poll("config_io", 10000, modify_ts=0)
    out["since_0"] = [r.code, r.body]
    out["ack"] = api.http_write("config_io", '{"channels": {"1": {}}}').code
    out["after_ack"] = api.http_long_poll("config_io", 300, modify_ts=0).code
    out["since_later"] = api.http_long_poll("config_io", 300, modify_ts=time.time() + 1).code
    return out


def https_content(cfg, admin):
    admin.upload_content("fw-1.bin", bytes(range(256)) * 4, "application/octet-stream")
    admin.upload_content("notes.txt", b"hello", "text/plain")
    api = https_api(cfg, "mc-content")
    api.http_activate()
    listing = api._http_listContent()
    info = api._http_getContentInfo("fw-1.bin")
    blob = api._http_getContent("fw-1.bin", stream=True)
    data = b"".join(blob.iter_content(100))
    return {"list": [listing.status_code, listing.text], "info": info.text,
            "download_ok": data == bytes(range(256)) * 4,
            "missing": api._http_getContent("missing").status_code}


def https_threads(cfg, admin):
    api = https_api(cfg, "mc-threads")
    api.http_activate()
    client = murano_client.MuranoClient(
        murano_host="https://localhost:%d/" % cfg["https_port"], murano_id="mc-threads",
        murano_token=api.murano_token(), murano_cacert=cfg["ca_path"],
        watchlist=["config_io"], http_timeout=5)
    client.start_client()
    try:
        client.tell(resource="data_in", timestamp=1700000100.25, payload='{"001": 9}')
        admin.set_resource("mc-threads", "config_io", '{"channels": {}}')
        got = client.watch(timeout=15)
        deadline = time.monotonic() + 10
        hist = []
        while not hist and time.monotonic() < deadline:
            hist = admin.resource("mc-threads", "data_in")["history"]
            time.sleep(0.1)
        return {"watched": [got.resource, got.payload] if got else None, "history": hist}
    finally:
        client.stop_all()
        client.outbound_protocol = None  # its __del__ is broken for https


def https_watch_repeat(cfg, admin):
    """murano-client's watch thread long-polls with If-Modified-Since: 0 every time.
    One data_out set, written back once received: how often does it come in 5 s?"""
    api = https_api(cfg, "mc-repeat")
    api.http_activate()
    client = murano_client.MuranoClient(
        murano_host="https://localhost:%d/" % cfg["https_port"], murano_id="mc-repeat",
        murano_token=api.murano_token(), murano_cacert=cfg["ca_path"],
        watchlist=["data_out"], http_timeout=3)
    client.start_client()
    try:
        time.sleep(1.5)  # past its initial reads
        admin.set_resource("mc-repeat", "data_out", '{"004": 1}')
        got = []
        end = time.monotonic() + 5
        while time.monotonic() < end:
            msg = client.watch(timeout=1)
            if msg:
                if not got:
                    api.http_write("data_out", '{"004": 1}')  # the acknowledgement
                got.append([msg.resource, msg.payload])
        return {"received": got}
    finally:
        client.stop_all()
        client.outbound_protocol = None


def mqtt_flow(cfg, admin):
    act = murano_mqtt.MuranoMQTT(murano_host="mqtt://localhost", murano_port=cfg["mqtts_port"],
                                 murano_id="mc-mqtt", murano_cacert=cfg["ca_path"],
                                 disconnect_after_seconds=10)
    act.start(activate_only=True)
    token = act.murano_token()
    client = murano_client.MuranoClient(
        murano_host="mqtt://localhost", murano_port=cfg["mqtts_port"], murano_id="mc-mqtt",
        murano_token=token, murano_cacert=cfg["ca_path"], watchlist=["config_io"],
        http_timeout=15)
    client.start_client()
    out = {"token_len": len(token or "")}
    try:
        client.tell(resource="data_in", timestamp=1700000000.5, payload='{"001": 3}')
        deadline = time.monotonic() + 10
        hist = []
        while not hist and time.monotonic() < deadline:
            hist = admin.resource("mc-mqtt", "data_in")["history"]
            time.sleep(0.1)
        out["history"] = hist
        ts = admin.set_resource("mc-mqtt", "config_io", '{"channels": {"9": {}}}')["ts_us"]
        got = client.inbound_queue.safe_get(timeout=10)
        out["set_ts"] = ts
        out["watched"] = [got.resource, got.timestamp, got.payload] if got else None
        ok, _ = client.ack("config_io", '{"channels": {"9": {}}}')
        out["ack"] = ok
        out["latest_source"] = admin.resource("mc-mqtt", "config_io")["latest"]["source"]
    finally:
        client.stop_all()
    return out


def cert_flow(cfg, admin):
    """TLS client certificate auth: HTTPS writes/reads and an MQTT tell."""
    api = murano_http.MuranoHTTP(murano_host="https://localhost:%d/" % cfg["https_port"],
                                 murano_id="mc-cert", murano_cacert=cfg["ca_path"],
                                 certfile=cfg["certfile"], pkeyfile=cfg["pkeyfile"],
                                 http_timeout=20)
    out = {"activated": api.is_activated()}
    out["write"] = api.http_write("data_in", '{"001": 5}').code
    out["read"] = api.http_read(["data_in"]).body
    client = murano_client.MuranoClient(
        murano_host="mqtt://localhost", murano_port=cfg["mqtts_port"], murano_id="mc-cert",
        murano_cacert=cfg["ca_path"], certfile=cfg["certfile"], pkeyfile=cfg["pkeyfile"],
        watchlist=["config_io"], http_timeout=15)
    client.start_client()
    try:
        client.tell(resource="data_in", timestamp=1700000200.0, payload='{"001": 6}')
        deadline = time.monotonic() + 10
        hist = []
        while len(hist) < 2 and time.monotonic() < deadline:
            hist = admin.resource("mc-cert", "data_in")["history"]
            time.sleep(0.1)
        out["history"] = hist
    finally:
        client.stop_all()
        api.close_session()
    return out


if __name__ == "__main__":
    scenario, cfg = sys.argv[1], json.loads(sys.argv[2])
    result = globals()[scenario](cfg, AdminClient(cfg["admin_url"]))
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
