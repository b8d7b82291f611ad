"""In-process checks of the connector's building blocks: MQTT framing, topic
matching, the SQLite store and the HTTP timestamp rules."""

import asyncio
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uedge_connector import mqtt_codec as mc
from uedge_connector.device_http import (parse_record_ts_us, parse_since_s, parse_since_us,
                                         parse_ts_us)
from uedge_connector.hub import EXTENSIONS, MAX_RESOURCE, Hub, Refused
from uedge_connector.store import Store


def read(data, max_size=1 << 24):
    async def go():
        r = asyncio.StreamReader()
        r.feed_data(data)
        r.feed_eof()
        return await mc.read_packet(r, max_size)

    return asyncio.run(go())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=40000), st.integers(0, 15))
def test_packet_framing_roundtrip(body, flags):
    assert read(mc.packet(mc.PUBLISH, flags, body)) == (mc.PUBLISH, flags, body)


def test_remaining_length_limits():
    assert mc.encode_length(127) == b"\x7f"
    assert mc.encode_length(128) == b"\x80\x01"
    assert mc.encode_length(268435455) == b"\xff\xff\xff\x7f"
    with pytest.raises(mc.ProtocolError):
        read(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(mc.PacketTooLarge):
        read(mc.packet(mc.PUBLISH, 0, b"x" * 100), max_size=99)


@pytest.mark.parametrize("filt,topic,match", [
    ("a/b", "a/b", True), ("a/+", "a/b", True), ("a/+", "a/b/c", False),
    ("a/#", "a/b/c", True), ("a/#", "a", True), ("#", "a/b", True),
    ("#", "$resource/x", False), ("+/x", "$resource/x", False),
    ("$resource/#", "$resource/config_io/1", True), ("a/b", "a/c", False),
])
def test_topic_matches(filt, topic, match):
    assert mc.topic_matches(filt, topic) is match


def test_valid_filter():
    assert mc.valid_filter("a/+/#")
    assert not mc.valid_filter("a/#/b")
    assert not mc.valid_filter("a/b+")
    assert not mc.valid_filter("")


def test_connect_parsing():
    body = (mc.utf8("MQTT") + bytes([4, 0xC2 | 0x04 | 0x08 | 0x20]) + b"\x00\x3c"
            + mc.utf8("cid") + mc.utf8("will/t") + mc.utf8("bye") + mc.utf8("user")
            + mc.utf8("pw"))
    c = mc.parse_connect(body)
    assert (c.protocol, c.level, c.clean, c.keepalive, c.client_id) == ("MQTT", 4, True, 60, "cid")
    assert (c.will_topic, c.will_message, c.will_qos, c.will_retain) == ("will/t", b"bye", 1, True)
    assert (c.username, c.password) == ("user", b"pw")
    with pytest.raises(mc.ProtocolError):
        mc.parse_connect(body[:12])


def test_store_time_series_and_credentials(tmp_path):
    s = Store(str(tmp_path / "db.sqlite3"))
    token = "T" * 40
    assert s.provision("d1", "token", token)
    assert not s.provision("d1", "token", "U" * 40)
    assert s.device_for_token(token) == "d1"
    assert s.device_for_token("U" * 40) is None
    assert s.provision("d2", "password", "p" * 20)
    assert s.check_password("d2", "p" * 20) and not s.check_password("d2", "q" * 20)
    # nothing secret is stored in clear
    raw = sqlite3.connect(str(tmp_path / "db.sqlite3")).execute(
        "SELECT group_concat(coalesce(cred_hash, '') || coalesce(cred_salt, '')) FROM devices"
    ).fetchone()[0]
    assert token not in raw and "p" * 20 not in raw
    # live writes get unique, increasing timestamps; explicit timestamps replace
    t1 = s.write("d1", {"a": "1"}, "device")["a"]
    t2 = s.write("d1", {"a": "2"}, "device")["a"]
    assert t2 > t1
    s.write_many("d1", [(5, {"a": "old"}), (5, {"a": "old2"})], "device")
    assert s.history("d1", "a") == [(5, "old2", "device"), (t1, "1", "device"),
                                    (t2, "2", "device")]
    assert s.history("d1", "a", limit=1) == [(t2, "2", "device")]
    assert s.reset("d1") and s.device_for_token(token) is None
    assert s.provision("d1", "token", "V" * 40)


def test_hub_rules(tmp_path):
    hub = Hub(Store(str(tmp_path / "db.sqlite3")), auth="token", self_register=False)
    with pytest.raises(Refused) as e:
        hub.provision_token("nobody")
    assert e.value.kind == "not_whitelisted"
    hub.store.whitelist("ok-1")
    assert len(hub.provision_token("ok-1")) == 40
    with pytest.raises(Refused) as e:
        hub.provision_token("ok-1")
    assert e.value.kind == "exists"
    with pytest.raises(Refused):
        hub.check_id("bad/id")
    with pytest.raises(ValueError):
        hub.device_write("ok-1", {"x": "a" * (MAX_RESOURCE + 1)})
    ts = hub.cloud_set("ok-1", "config_io", "{}")
    assert hub.pending("ok-1", "config_io")[:2] == (ts, "{}")
    hub.device_write("ok-1", {"config_io": "{}"})
    assert hub.pending("ok-1", "config_io") is None
    # strict If-Modified-Since: set after that second, written back or not
    s = ts // 1000000
    assert hub.changed_since("ok-1", ["config_io", "data_out"], s - 1) == [("config_io", "{}", ts)]
    assert hub.changed_since("ok-1", ["config_io"], s) == []
    assert not hub.ext("resend_on_connect") and hub.extensions == frozenset()
    # record conflicts: a stored point, or the same point twice
    hub.device_record("ok-1", [(5000000, {"data_in": "a"})])
    assert hub.record_conflicts("ok-1", [("data_in", 5000000), ("data_in", 6000000),
                                         ("config_io", 5000000), ("data_in", 6000000)]) == [
        ("data_in", 5000000), ("data_in", 6000000)]
    url = hub.content_url("a b.bin")
    q = dict(p.split("=") for p in url.split("?")[1].split("&"))
    assert hub.check_content_sig("a b.bin", q["expires"], q["sig"])
    assert not hub.check_content_sig("other.bin", q["expires"], q["sig"])


def test_http_timestamp_units():
    assert parse_ts_us("1700000000") == 1700000000000000
    assert parse_ts_us("1700000000.25") == 1700000000250000
    assert parse_ts_us("1700000000123") == 1700000000123000
    assert parse_ts_us("1700000000123456") == 1700000000123456
    assert parse_since_us("0") == 0
    assert parse_since_us("Tue, 14 Nov 2023 22:13:20 GMT") == 1700000000000000


def test_extensions_and_strict_timestamp_rules(tmp_path):
    hub = Hub(Store(str(tmp_path / "db.sqlite3")), extensions=["poll_unacked"])
    assert hub.ext("poll_unacked") and not hub.ext("json_values")
    with pytest.raises(ValueError):
        Hub(hub.store, extensions=["no_such_thing"])
    assert all(flag.startswith("--") for flag, _text in EXTENSIONS.values())
    assert parse_record_ts_us("1700000000", False) == 1700000000000000
    for bad in ("1700000000.5", "-1", "1e9", ""):
        with pytest.raises(ValueError):
            parse_record_ts_us(bad, False)
    assert parse_record_ts_us("1700000000.5", True) == 1700000000500000
    assert parse_since_s("1700000000.9") == 1700000000
    assert parse_since_s("Tue, 14 Nov 2023 22:13:20 GMT") == 1700000000
    assert parse_since_s("0") == 0
