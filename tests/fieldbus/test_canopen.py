"""CANopen source against a canopen LocalNode on a python-can virtual bus: TPDO
frames (passive) and SDO upload/download, decoding and errors."""

import struct
import time
import uuid

import canopen
import pytest
from canopen.objectdictionary import (
    INTEGER16,
    REAL32,
    UNSIGNED32,
    VISIBLE_STRING,
    ODVariable,
)
from fieldbus_peers import config_io
from uedge.config.config_io import parse_config_io
from uedge_host.sources.canopen_source import CANopenSource

NODE = 5


def make_od():
    od = canopen.ObjectDictionary()
    for name, idx, dt, default in (
        ("count", 0x2000, UNSIGNED32, 123456789),
        ("temperature", 0x2001, REAL32, 21.5),
        ("name", 0x2002, VISIBLE_STRING, "pump-7"),
        ("delta", 0x2003, INTEGER16, -300),
        ("setpoint", 0x2004, UNSIGNED32, 0),
    ):
        v = ODVariable(name, idx, 0)
        v.data_type = dt
        v.access_type = "rw"
        v.default = default
        od.add_object(v)
    return od


@pytest.fixture
def bus():
    chan = "uedge-can-" + uuid.uuid4().hex[:8]
    peer = canopen.Network()
    peer.connect(interface="virtual", channel=chan)
    local = canopen.LocalNode(NODE, make_od())
    peer.add_node(local)
    src = CANopenSource("CANopen", "canA-10", {"channel": chan, "bustype": "virtual",
                                               "bitrate": 250000, "sdo_timeout_ms": 200,
                                               "retry_ms": 300})
    src.open()
    try:
        yield peer, local, src
    finally:
        src.close()
        peer.disconnect()


CHANS = {
    # TPDO1 of node 5: bytes 0-3 REAL32, 4-5 INT16, 6 BOOLEAN, 7 INT8
    "pdo-real": {"node_id": "0x05", "msg_index": "0x180", "offset": 0, "data_length": 4,
                 "evaluation_mode": "REAL32"},
    "pdo-i16": {"node_id": "0x05", "msg_index": "0x180", "offset": "4", "data_length": "2",
                "evaluation_mode": "INT16"},
    "pdo-bool": {"node_id": "05", "msg_index": "0x185", "offset": 6, "data_length": 1,
                 "evaluation_mode": "BOOLEAN"},
    "pdo-i8": {"node_id": "0x05", "msg_index": "0x180", "offset": 7, "data_length": 1,
               "evaluation_mode": "INT8"},
    # TPDO2: UINT16 + UINT32 + 2 chars
    "pdo2-u16": {"node_id": "0x05", "msg_index": "0x280", "offset": 0, "data_length": 2,
                 "evaluation_mode": "UINT16"},
    "pdo2-u32": {"node_id": "0x05", "msg_index": "0x280", "offset": 2, "data_length": 4,
                 "evaluation_mode": "UINT32"},
    "pdo2-str": {"node_id": "0x05", "msg_index": "0x280", "offset": 6, "data_length": 2,
                 "evaluation_mode": "STRING"},
    # SDO uploads
    "sdo-u32": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "0x2000",
                "evaluation_mode": "UINT32"},
    "sdo-real": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "0x2001",
                 "sdo_subindex": 0, "evaluation_mode": "REAL32"},
    "sdo-str": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "2002",
                "evaluation_mode": "STRING"},
    "sdo-i16": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "0x2003",
                "offset": 0, "data_length": 2, "evaluation_mode": "INT16"},
}


def channels(chans):
    return parse_config_io(config_io(chans, "CANopen", "canA-10")).channels


def read_all(src, chs):
    values, errors = {}, {}
    src.read_many(list(chs.values()), values, errors)
    return values, errors


def wait_for(pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_pdo_and_sdo_values(bus):
    peer, local, src = bus
    chs = channels(CHANS)
    values, errors = read_all(src, chs)
    # nothing sent yet: PDO channels say so, SDO ones already read
    assert "no TPDO 0x185 received from node 0x05 yet" in errors["pdo-real"]
    assert values["sdo-u32"] == 123456789 and values["sdo-str"] == "pump-7"
    peer.send_message(0x185, struct.pack("<fhBb", -12.25, -1234, 1, -7))
    peer.send_message(0x285, struct.pack("<HI", 65000, 4000000000) + b"OK")
    wait_for(lambda: 0x285 in src.frames.last)
    values, errors = read_all(src, chs)
    assert errors == {}
    assert values == {
        "pdo-real": -12.25, "pdo-i16": -1234, "pdo-bool": 1, "pdo-i8": -7,
        "pdo2-u16": 65000, "pdo2-u32": 4000000000, "pdo2-str": "OK",
        "sdo-u32": 123456789, "sdo-real": 21.5, "sdo-str": "pump-7", "sdo-i16": -300,
    }
    # new PDO data replaces the old
    peer.send_message(0x185, struct.pack("<fhBb", 1.5, 2, 0, 3))
    wait_for(lambda: src.frames.last[0x185][0][:4] == struct.pack("<f", 1.5))
    values, errors = read_all(src, chs)
    assert values["pdo-real"] == 1.5 and values["pdo-bool"] == 0


def test_sdo_write_from_a_control_channel(bus):
    _peer, local, src = bus
    chs = channels({"set": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "0x2004",
                            "evaluation_mode": "UINT32"}})
    src.write(chs["set"], 77000)
    assert local.sdo[0x2004].raw == 77000
    assert src.read(chs["set"]) == 77000


def test_sdo_abort_and_silent_node_fail_alone(bus):
    _peer, _local, src = bus
    chs = channels({
        "ok": CHANS["sdo-u32"],
        "missing": {"node_id": "0x05", "msg_index": "0x580", "sdo_index": "0x3000",
                    "evaluation_mode": "UINT32"},
        "ghost": {"node_id": "0x09", "msg_index": "0x580", "sdo_index": "0x2000",
                  "evaluation_mode": "UINT32"},
    })
    values, errors = read_all(src, chs)
    assert values == {"ok": 123456789}
    assert "SDO abort" in errors["missing"]
    assert "node 0x09: no SDO response" in errors["ghost"]
    values, errors = read_all(src, chs)
    assert values == {"ok": 123456789} and "retry in" in errors["ghost"]


def test_channel_validation_messages():
    check = CANopenSource.check_channel
    assert check("1", CHANS["pdo-real"]) is None
    assert "msg_index must be 0x180" in check("1", {"node_id": "0x05", "msg_index": "0x700",
                                                    "evaluation_mode": "INT8"})
    assert "not of node_id" in check("1", {"node_id": "0x05", "msg_index": "0x186",
                                           "evaluation_mode": "INT8"})
    assert "evaluation_mode" in check("1", {"node_id": "0x05", "msg_index": "0x180"})
    assert "node_id" in check("1", {"node_id": "0x99", "msg_index": "0x180",
                                    "evaluation_mode": "INT8"})
    assert "runs past" in check("1", {"node_id": "1", "msg_index": "0x180", "offset": 6,
                                      "evaluation_mode": "UINT32", "data_length": 4})
    assert "sdo_index" in check("1", {"node_id": "1", "msg_index": "0x580",
                                      "evaluation_mode": "UINT32"})
    e = check("1", {"node_id": "1", "msg_index": "0x180", "evaluation_mode": "UINT32",
                    "data_length": 2})
    assert "data_length must be at least 4" in e
