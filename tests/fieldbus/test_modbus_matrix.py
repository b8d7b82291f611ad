"""Every register range, byte/register order and evaluation mode, read bit-exact
from real pymodbus servers by the pymodbus path (TCP, RTU) and by the portable
RTU master (under MicroPython and CPython) over a socat pty pair."""

import struct

import pytest
from fieldbus_peers import config_io, rtu_server, run_mpy, tcp_server
from peers.socat import socat_pair
from pymodbus.client import ModbusSerialClient
from uedge.config.config_io import parse_config_io
from uedge.sources.modbus_rtu import ModbusRTUSource
from uedge_host.sources.modbus import ModbusRTUHostSource, ModbusTCPSource

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]
CASES = [
    ("floating point: ieee754", 2, ">f", 3.14159),
    ("floating point: ieee754", 4, ">d", -2.718281828459045e-5),
    ("signed integer", 1, ">h", -1234),
    ("signed integer", 2, ">i", -12345678),
    ("signed integer", 4, ">q", -1234567890123),
    ("unsigned", 1, ">H", 65000),
    ("unsigned", 2, ">I", 3000000000),
    ("unsigned", 4, ">Q", 2 ** 63 + 12345),
    ("string-ascii", 4, None, "ABCDEFG"),
]


def lay(abcd, byte_order, reg_order):
    """Independent layout: split into 16-bit words, reorder words, then bytes."""
    words = [abcd[i:i + 2] for i in range(0, len(abcd), 2)]
    if reg_order == "little":
        words = words[::-1]
    if byte_order == "little":
        words = [w[::-1] for w in words]
    return b"".join(words)


def build_matrix():
    """-> (channels {id: asc}, expected {id: value}, server data)."""
    chans, expected = {}, {}
    regs = {"hr": [], "ir": []}
    for table, rng in (("hr", "HOLDING_REGISTER"), ("ir", "INPUT_REGISTER")):
        block = regs[table]
        for oi, (bo, ro) in enumerate(ORDERS):
            for ci, (mode, count, fmt, value) in enumerate(CASES):
                if fmt is None:
                    abcd = value.encode().ljust(2 * count, b"\x00")
                    want = value
                else:
                    if table == "ir" and fmt[1] in "hiq":
                        value = -value - 7  # different numbers in the second table
                    abcd = struct.pack(fmt, value)
                    want = struct.unpack(fmt, abcd)[0]
                wire = lay(abcd, bo, ro)
                block.append(0)  # one unused register between channels
                start = len(block)
                block.extend(struct.unpack(">%dH" % count, wire))
                cid = "%s-%d-%d" % (table, oi, ci)
                chans[cid] = {"register_range": rng, "register": start + 1,
                              "register_count": count, "byte_endianness": bo,
                              "register_endianness": ro, "evaluation_mode": mode}
                expected[cid] = want
        # bitmasks
        start = len(block)
        block.extend([0xABCD])
        chans[table + "-mask16"] = {"register_range": rng, "register": str(start + 1).zfill(4),
                                    "evaluation_mode": "unsigned", "bitmask": "0x0FF0"}
        expected[table + "-mask16"] = 0x0BC0
        start = len(block)
        raw = struct.unpack(">I", struct.pack(">i", -123456))[0]
        block.extend([raw >> 16, raw & 0xFFFF])
        chans[table + "-mask32s"] = {"register_range": rng, "register": start + 1,
                                     "register_count": "2", "evaluation_mode": "signed integer",
                                     "bitmask": "FFFF0000"}
        expected[table + "-mask32s"] = struct.unpack(">i", struct.pack(">I", raw & 0xFFFF0000))[0]
    bits = {"co": [0] * 40, "di": [0] * 40}
    for table, rng, pattern in (("co", "HOLDING_COIL", 0b1011001110), ("di", "INPUT_COIL", 0b0110100101)):
        for i in range(10):
            bits[table][3 + i] = (pattern >> i) & 1
            cid = "%s-bit%d" % (table, i)
            chans[cid] = {"register_range": rng, "register": 4 + i}
            expected[cid] = (pattern >> i) & 1
        chans[table + "-word"] = {"register_range": rng, "register": 4, "register_count": 10}
        expected[table + "-word"] = pattern
        chans[table + "-wmask"] = {"register_range": rng, "register": 4, "register_count": 10,
                                   "bitmask": "0x0F0"}
        expected[table + "-wmask"] = pattern & 0xF0
    data = {"1": {"hr": regs["hr"], "ir": regs["ir"], "co": bits["co"], "di": bits["di"]}}
    return chans, expected, data


CHANS, EXPECTED, DATA = build_matrix()


def with_unit(chans, **extra):
    out = {}
    for cid, asc in chans.items():
        a = dict(asc)
        a.update(extra)
        out[cid] = a
    return out


def check(values, errors):
    assert errors == {}
    assert set(values) == set(EXPECTED)
    for cid, want in EXPECTED.items():
        got = values[cid]
        assert type(got) is type(want), (cid, got, want)
        if isinstance(want, float):
            assert struct.pack(">d", got) == struct.pack(">d", want), (cid, got, want)
        else:
            assert got == want, (cid, got, want)


def channels_of(cfg):
    return list(parse_config_io(cfg).channels.values())


@pytest.fixture(scope="module")
def rtu():
    with socat_pair() as pair, rtu_server(DATA, pair.b) as srv:
        yield pair, srv


def test_matrix_is_big_enough_to_need_several_requests():
    assert len(CHANS) == 2 * (4 * 9 + 2) + 2 * 12
    assert len(DATA["1"]["hr"]) > 125


def test_pymodbus_tcp_reads_every_mode_bit_exact():
    with tcp_server(DATA) as srv:
        cfg = config_io(with_unit(CHANS, ip_address="127.0.0.1", port=srv.tcp_port), "Modbus_TCP", "lo")
        src = ModbusTCPSource("Modbus_TCP", "lo", {})
        src.open()
        values, errors = {}, {}
        src.read_many(channels_of(cfg), values, errors)
        src.close()
    check(values, errors)
    # coalesced: 2 holding + 2 input register blocks + 1 coil + 1 discrete input block
    assert src.requests == 6


def test_pymodbus_rtu_reads_every_mode_bit_exact(rtu):
    pair, _srv = rtu
    cfg = config_io(with_unit(CHANS, slave_id=1), "Modbus_RTU", pair.a)
    src = ModbusRTUHostSource("Modbus_RTU", pair.a, {"baud_rate": 115200})
    values, errors = {}, {}
    src.read_many(channels_of(cfg), values, errors)
    src.close()
    check(values, errors)
    assert src.requests == 6


def test_portable_rtu_master_under_micropython_bit_exact(rtu):
    pair, _srv = rtu
    out = run_mpy({"port": pair.a, "app_config": {"baud_rate": 115200, "parity": "none"},
                   "config_io": config_io(with_unit(CHANS, slave_id=1), "Modbus_RTU", pair.a),
                   "rounds": 2})
    for r in out["rounds"]:
        check(r["values"], r["errors"])
    assert out["requests"] == 12


def test_portable_rtu_master_under_cpython_bit_exact(rtu):
    pair, _srv = rtu
    cfg = config_io(with_unit(CHANS, slave_id=1), "Modbus_RTU", pair.a)
    src = ModbusRTUSource("Modbus_RTU", pair.a, {"baud_rate": 115200})
    src.open()
    values, errors = {}, {}
    src.read_many(channels_of(cfg), values, errors)
    src.close()
    check(values, errors)


WRITES = {
    "w-coil": ({"register_range": "HOLDING_COIL", "register": 2}, True),
    "w-coils": ({"register_range": "HOLDING_COIL", "register": 10, "register_count": 5}, 0b10110),
    "w-f32": ({"register_range": "HOLDING_REGISTER", "register": 11, "register_count": 2,
               "evaluation_mode": "floating point: ieee754", "byte_endianness": "little",
               "register_endianness": "little"}, 12.375),
    "w-i32": ({"register_range": "HOLDING_REGISTER", "register": 14, "register_count": 2,
               "evaluation_mode": "signed integer", "byte_endianness": "little"}, -99999),
    "w-u16": ({"register_range": "HOLDING_REGISTER", "register": 17}, 4242),
    "w-str": ({"register_range": "HOLDING_REGISTER", "register": 20, "register_count": 3,
               "evaluation_mode": "string-ascii", "register_endianness": "little"}, "hey!"),
    "w-mask": ({"register_range": "HOLDING_REGISTER", "register": 24, "bitmask": "0x00F0"}, 0x0050),
}
WRITE_DATA = {"1": {"hr": [0] * 23 + [0xABCD] + [0] * 6, "co": [0] * 20}}


def expected_raw():
    regs = list(WRITE_DATA["1"]["hr"])
    regs[10:12] = struct.unpack(">2H", lay(struct.pack(">f", 12.375), "little", "little"))
    regs[13:15] = struct.unpack(">2H", lay(struct.pack(">i", -99999), "little", "big"))
    regs[16] = 4242
    regs[19:22] = struct.unpack(">3H", lay(b"hey!\x00\x00", "big", "little"))
    regs[23] = 0xAB5D
    coils = [0] * 20
    coils[1] = 1
    for i in range(5):
        coils[9 + i] = (0b10110 >> i) & 1
    return regs, coils


def read_raw(path):
    c = ModbusSerialClient(path, baudrate=115200, timeout=1, retries=1)
    assert c.connect()
    regs = c.read_holding_registers(0, count=30, device_id=1).registers
    coils = [int(b) for b in c.read_coils(0, count=20, device_id=1).bits[:20]]
    c.close()
    return regs, coils


@pytest.mark.parametrize("path", ["micropython", "portable-cpython", "pymodbus"])
def test_control_writes_encode_through_the_codec(path):
    chans = {cid: dict(asc, slave_id=1) for cid, (asc, _v) in WRITES.items()}
    with socat_pair() as pair, rtu_server(WRITE_DATA, pair.b):
        cfg = config_io(chans, "Modbus_RTU", pair.a)
        writes = [[cid, v] for cid, (_asc, v) in WRITES.items()]
        if path == "micropython":
            out = run_mpy({"port": pair.a, "app_config": {"baud_rate": 115200},
                           "config_io": cfg, "writes": writes, "rounds": 1})
            assert all(e is None for e in out["writes"].values()), out["writes"]
            values = out["rounds"][0]["values"]
        else:
            cls = ModbusRTUSource if path == "portable-cpython" else ModbusRTUHostSource
            src = cls("Modbus_RTU", pair.a, {"baud_rate": 115200})
            src.open()
            chs = parse_config_io(cfg).channels
            for cid, v in writes:
                src.write(chs[cid], v)
            values, errors = {}, {}
            src.read_many(list(chs.values()), values, errors)
            src.close()
            assert errors == {}
        regs, coils = read_raw(pair.a)
    want_regs, want_coils = expected_raw()
    assert regs == want_regs
    assert coils == want_coils
    assert values["w-f32"] == 12.375 and values["w-i32"] == -99999 and values["w-str"] == "hey!"
    assert values["w-mask"] == 0x50 and values["w-coils"] == 0b10110 and values["w-coil"] == 1


def test_read_only_ranges_refuse_writes():
    src = ModbusRTUSource("Modbus_RTU", "/nonexistent", {})
    ch = channels_of(config_io({"x": {"slave_id": 1, "register_range": "INPUT_REGISTER",
                                      "register": 1}}, "Modbus_RTU", "/nonexistent"))[0]
    with pytest.raises(Exception) as e:
        src.write(ch, 1)
    assert "read-only" in str(e.value)


def test_portable_source_on_a_board_uart(rtu, tmp_path):
    """interface "uart1" -> machine.UART(1) of the simulated board, wired to the pty."""
    import json
    import os

    pair, _srv = rtu
    hw = tmp_path / "hw.json"
    hw.write_text(json.dumps({"uart": {"1": pair.a}}))
    vb = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "tools", "virtual_board", "mpy")
    if not os.path.exists(os.path.join(vb, "machine.py")):
        pytest.skip("no simulated machine module")
    out = run_mpy({"port": "uart1", "app_config": {"baud_rate": 115200}, "sys_path": [vb],
                   "config_io": config_io(with_unit(CHANS, slave_id=1), "Modbus_RTU", "uart1"),
                   "rounds": 1}, env={"UEDGE_SIM_HW": str(hw)})
    check(out["rounds"][0]["values"], out["rounds"][0]["errors"])
