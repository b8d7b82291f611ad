"""Faults against real peers: a silent device, CRC errors, Modbus exception
codes and a vanishing serial port fail only the affected channels, are retried
with backoff, and recover when the device comes back."""

import time

import pytest
from fieldbus_peers import config_io, rtu_server, run_mpy, tcp_server
from peers.socat import socat_pair
from serial_mitm import Mitm
from uedge.config.config_io import parse_config_io
from uedge.sources.modbus_rtu import ModbusRTUSource
from uedge_host.sources.modbus import ModbusRTUHostSource, ModbusTCPSource

DATA = {"1": {"hr": [100 + i for i in range(20)]}, "2": {"hr": [200 + i for i in range(20)]}}
# unit 1: three neighbours (one request); unit 2: two channels
CHANS = {
    "u1-a": {"slave_id": 1, "register_range": "HOLDING_REGISTER", "register": 1},
    "u1-b": {"slave_id": 1, "register_range": "HOLDING_REGISTER", "register": 3},
    "u1-c": {"slave_id": 1, "register_range": "HOLDING_REGISTER", "register": 5},
    "u2-a": {"slave_id": 2, "register_range": "HOLDING_REGISTER", "register": 2},
    "u2-b": {"slave_id": 2, "register_range": "HOLDING_REGISTER", "register": 4},
}
GOOD = {"u1-a": 100, "u1-b": 102, "u1-c": 104, "u2-a": 201, "u2-b": 203}
APP = {"baud_rate": 115200, "timeout_ms": 150, "retry_ms": 300, "retry_max_ms": 1000}
SOURCES = {"portable": ModbusRTUSource, "pymodbus": ModbusRTUHostSource}


@pytest.fixture
def line():
    """master <-> mitm <-> pymodbus RTU server with units 1 and 2."""
    with socat_pair() as p1, socat_pair() as p2, rtu_server(DATA, p2.b) as srv:
        m = Mitm(p1.b, p2.a)
        try:
            yield p1.a, m, srv
        finally:
            m.close()


def read(src, chans):
    values, errors = {}, {}
    src.read_many(chans, values, errors)
    return values, errors


def channels(cfg):
    return list(parse_config_io(cfg).channels.values())


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_silent_device_fails_alone_backs_off_and_recovers(line, kind):
    port, mitm, _srv = line
    chans = channels(config_io(CHANS, "Modbus_RTU", port))
    src = SOURCES[kind]("Modbus_RTU", port, APP)
    src.open()
    try:
        assert read(src, chans) == (GOOD, {})
        mitm.drop.add(2)
        values, errors = read(src, chans)
        assert values == {k: v for k, v in GOOD.items() if k.startswith("u1")}
        assert set(errors) == {"u2-a", "u2-b"}
        assert "unit 2" in errors["u2-a"] and "no response" in errors["u2-a"]
        sent = mitm.requests[2]
        # within the backoff window unit 2 is not asked again; unit 1 still is
        values, errors = read(src, chans)
        assert set(errors) == {"u2-a", "u2-b"} and "retry in" in errors["u2-b"]
        assert values["u1-c"] == 104
        assert mitm.requests[2] == sent
        mitm.drop.clear()
        time.sleep(0.5)
        assert read(src, chans) == (GOOD, {})
    finally:
        src.close()


@pytest.mark.parametrize("kind", ["portable"])
def test_crc_errors_fail_alone_and_recover(line, kind):
    port, mitm, _srv = line
    chans = channels(config_io(CHANS, "Modbus_RTU", port))
    src = SOURCES[kind]("Modbus_RTU", port, APP)
    src.open()
    try:
        mitm.corrupt.add(2)
        values, errors = read(src, chans)
        assert set(errors) == {"u2-a", "u2-b"} and "CRC error" in errors["u2-a"]
        assert values == {k: v for k, v in GOOD.items() if k.startswith("u1")}
        assert mitm.requests[2] == 2  # one retry on a corrupted frame
        mitm.corrupt.clear()
        time.sleep(0.5)
        assert read(src, chans) == (GOOD, {})
    finally:
        src.close()


def test_truncated_frames_fail_alone_portable(line):
    port, mitm, _srv = line
    chans = channels(config_io(CHANS, "Modbus_RTU", port))
    src = ModbusRTUSource("Modbus_RTU", port, APP)
    src.open()
    try:
        mitm.truncate.add(1)
        values, errors = read(src, chans)
        assert set(errors) == {"u1-a", "u1-b", "u1-c"} and "truncated response" in errors["u1-a"]
        assert values == {k: v for k, v in GOOD.items() if k.startswith("u2")}
        mitm.truncate.clear()
        time.sleep(0.5)
        assert read(src, chans) == (GOOD, {})
    finally:
        src.close()


def test_crc_errors_pymodbus_path_fail_alone(line):
    # pymodbus discards a frame with a bad CRC and waits: it surfaces as no response
    port, mitm, _srv = line
    chans = channels(config_io(CHANS, "Modbus_RTU", port))
    src = ModbusRTUHostSource("Modbus_RTU", port, APP)
    try:
        mitm.corrupt.add(2)
        values, errors = read(src, chans)
        assert set(errors) == {"u2-a", "u2-b"}
        assert values == {k: v for k, v in GOOD.items() if k.startswith("u1")}
        mitm.corrupt.clear()
        time.sleep(0.5)
        assert read(src, chans) == (GOOD, {})
    finally:
        src.close()


def test_micropython_master_silent_device_then_crc_recovery(line):
    port, mitm, _srv = line
    mitm.drop.add(2)
    out = run_mpy({"port": port, "app_config": APP, "config_io": config_io(CHANS, "Modbus_RTU", port),
                   "rounds": 2})
    for r in out["rounds"]:
        assert set(r["errors"]) == {"u2-a", "u2-b"}
        assert r["values"] == {k: v for k, v in GOOD.items() if k.startswith("u1")}
    assert "no response" in out["rounds"][0]["errors"]["u2-a"]
    assert "retry in" in out["rounds"][1]["errors"]["u2-a"]
    mitm.drop.clear()
    mitm.corrupt.add(2)
    out = run_mpy({"port": port, "app_config": APP, "config_io": config_io(CHANS, "Modbus_RTU", port),
                   "rounds": 1})
    assert "CRC error" in out["rounds"][0]["errors"]["u2-b"]
    mitm.corrupt.clear()
    out = run_mpy({"port": port, "app_config": APP, "config_io": config_io(CHANS, "Modbus_RTU", port),
                   "rounds": 1})
    assert out["rounds"][0] == {"values": GOOD, "errors": {}}


BAD = dict(CHANS)
BAD["u1-bad"] = {"slave_id": 1, "register_range": "HOLDING_REGISTER", "register": 21}


def check_exception(values, errors):
    assert values == GOOD
    assert set(errors) == {"u1-bad"}
    assert "ILLEGAL DATA ADDRESS (2)" in errors["u1-bad"]
    assert "HOLDING_REGISTER register 21" in errors["u1-bad"]


@pytest.mark.parametrize("kind", sorted(SOURCES) + ["micropython", "tcp"])
def test_exception_code_fails_only_that_channel(kind):
    # register 21 is past the device's table: merged with u1-c it makes the
    # whole block fail, so the block is split and only u1-bad keeps failing.
    if kind == "tcp":
        with tcp_server(DATA) as srv:
            chans = {k: dict(v, ip_address="127.0.0.1", port=srv.tcp_port) for k, v in BAD.items()}
            src = ModbusTCPSource("Modbus_TCP", "lo", {"max_gap": 20})
            cs = channels(config_io(chans, "Modbus_TCP", "lo"))
            for _ in range(2):
                check_exception(*read(src, cs))
            src.close()
        return
    with socat_pair() as pair, rtu_server(DATA, pair.b):
        cfg = config_io(BAD, "Modbus_RTU", pair.a)
        app = dict(APP, max_gap=20)
        if kind == "micropython":
            out = run_mpy({"port": pair.a, "app_config": app, "config_io": cfg, "rounds": 2})
            for r in out["rounds"]:
                check_exception(r["values"], r["errors"])
            # round 1: unit 1's merged block fails and is split into 4 reads, plus
            # unit 2; round 2: the good block, the bad channel alone, unit 2
            assert out["requests"] == (1 + 4 + 1) + 3
            return
        src = SOURCES[kind]("Modbus_RTU", pair.a, app)
        cs = channels(cfg)
        for _ in range(2):
            check_exception(*read(src, cs))
        src.close()


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_serial_port_vanishing_fails_its_channels_only_and_recovers(kind):
    with socat_pair() as p1, socat_pair() as p2:
        srv1 = rtu_server(DATA, p1.b)
        srv2 = rtu_server(DATA, p2.b)
        with srv1 as s1, srv2:
            c1 = channels(config_io(CHANS, "Modbus_RTU", p1.a))
            c2 = channels(config_io(CHANS, "Modbus_RTU", p2.a))
            a = SOURCES[kind]("Modbus_RTU", p1.a, APP)
            b = SOURCES[kind]("Modbus_RTU", p2.a, APP)
            a.open()
            b.open()
            assert read(a, c1) == (GOOD, {})
            p1.kill()  # the adapter is unplugged
            s1.stop()
            values, errors = read(a, c1)
            assert values == {} and set(errors) == set(GOOD)
            assert read(b, c2) == (GOOD, {})  # the other port keeps working
            values, errors = read(a, c1)
            assert set(errors) == set(GOOD)
            assert read(b, c2) == (GOOD, {})
            # plugged back in
            p1.start()
            s1.start()
            deadline = time.monotonic() + 10
            while True:
                values, errors = read(a, c1)
                if not errors or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert (values, errors) == (GOOD, {})
            a.close()
            b.close()


def test_tcp_device_going_away_fails_alone_and_recovers():
    with tcp_server(DATA) as s1, tcp_server(DATA) as s2:
        chans = {}
        for name, srv in (("x", s1), ("y", s2)):
            for cid, asc in CHANS.items():
                if cid.startswith("u1"):
                    chans[name + cid] = dict(asc, ip_address="127.0.0.1", port=srv.tcp_port)
        cs = channels(config_io(chans, "Modbus_TCP", "eth0"))
        src = ModbusTCPSource("Modbus_TCP", "eth0", {"timeout_ms": 300, "retry_ms": 300})
        want = {p + k: v for p in "xy" for k, v in GOOD.items() if k.startswith("u1")}
        assert read(src, cs) == (want, {})
        s1.stop()
        values, errors = read(src, cs)
        assert set(errors) == {k for k in want if k[0] == "x"}
        assert "127.0.0.1:%d unit 1" % s1.tcp_port in errors["xu1-a"]
        assert values == {k: v for k, v in want.items() if k[0] == "y"}
        values, errors = read(src, cs)
        assert "retry in" in errors["xu1-b"] and len(values) == 3
        s1.start()
        deadline = time.monotonic() + 10
        while True:
            values, errors = read(src, cs)
            if not errors or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert (values, errors) == (want, {})
        src.close()
