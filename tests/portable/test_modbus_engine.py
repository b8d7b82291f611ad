# The shared Modbus source engine over an in-memory register table: plans,
# splitting on exception codes, per-device backoff on the scheduler's clock,
# plan invalidation when config_io is re-applied.
from uedge.config.config_io import parse_config_io
from uedge.modbus import ModbusException, ModbusTimeout, codec
from uedge.modbus.engine import ModbusSource


class TableSource(ModbusSource):
    """Transport = a dict of register lists per unit (what a device holds)."""

    @classmethod
    def parse_channel(cls, asc):
        return codec.parse_int(asc, "slave_id", None, 1, 247), codec.parse(asc)

    def __init__(self, tables, app_config=None):
        ModbusSource.__init__(self, "Modbus_RTU", "/dev/null", app_config or {})
        self.tables = tables
        self.silent = set()
        self.log = []

    def _read_block(self, dev, fc, start, count):
        self.log.append((dev, fc, start, count))
        if dev in self.silent:
            raise ModbusTimeout("no response from unit %d" % dev)
        regs = self.tables[dev]
        if start + count > len(regs):
            raise ModbusException(2, fc)
        return codec.registers_to_bytes(regs[start:start + count])

    def _write_registers(self, dev, address, data):
        regs = codec.bytes_to_registers(data)
        for i in range(len(regs)):
            self.tables[dev][address + i] = regs[i]


def cio(chans):
    out = {}
    for cid in chans:
        out[cid] = {"display_name": cid, "properties": {"data_type": "NUMBER", "control": True},
                    "protocol_config": {"application": "Modbus_RTU", "interface": "/dev/null",
                                        "app_specific_config": chans[cid]}}
    return list(parse_config_io({"last_edited": "2026-01-01T00:00:00+00:00", "channels": out}).channels.values())


def hr(unit, reg, **kw):
    d = {"slave_id": unit, "register_range": "HOLDING_REGISTER", "register": reg}
    d.update(kw)
    return d


def read(src, chans):
    v = {}
    e = {}
    src.read_many(chans, v, e)
    return v, e


def test_coalesced_and_split_on_illegal_address():
    src = TableSource({1: [10, 11, 12, 13, 14], 2: [20, 21]}, {"max_gap": 20})
    chans = cio({"a": hr(1, 1), "b": hr(1, 3), "c": hr(1, 9), "d": hr(2, 2)})
    v, e = read(src, chans)
    assert v == {"a": 10, "b": 12, "d": 21}
    assert "ILLEGAL DATA ADDRESS (2)" in e["c"] and "register 9" in e["c"]
    # 1 merged (refused) + 3 single + unit 2
    assert len(src.log) == 5
    del src.log[:]
    v, e = read(src, chans)
    assert v == {"a": 10, "b": 12, "d": 21} and list(e) == ["c"]
    assert src.log == [(1, 3, 0, 3), (1, 3, 8, 1), (2, 3, 1, 1)]


def test_backoff_on_the_schedulers_clock():
    src = TableSource({1: [1, 2], 2: [3, 4]}, {"retry_ms": 1000, "retry_max_ms": 4000})
    chans = cio({"a": hr(1, 1), "b": hr(2, 2)})
    src.silent.add(2)
    src.now_ms = 0
    v, e = read(src, chans)
    assert v == {"a": 1} and "no response from unit 2" in e["b"]
    n = len(src.log)
    src.now_ms = 500
    v, e = read(src, chans)
    assert "retry in 500 ms" in e["b"] and len(src.log) == n + 1  # only unit 1 asked
    src.now_ms = 1000  # retry: still silent, next wait doubles
    v, e = read(src, chans)
    assert len(src.log) == n + 3
    src.now_ms = 2999
    v, e = read(src, chans)
    assert "retry in 1 ms" in e["b"]
    src.silent.clear()
    src.now_ms = 3000
    assert read(src, chans) == ({"a": 1, "b": 4}, {})


def test_new_config_objects_get_a_new_plan():
    src = TableSource({1: [5, 6, 7]})
    assert read(src, cio({"a": hr(1, 1)})) == ({"a": 5}, {})
    # same channel id, different register: must not reuse the old plan
    assert read(src, cio({"a": hr(1, 3)})) == ({"a": 7}, {})


def test_bad_channel_settings_fail_only_that_channel():
    src = TableSource({1: [5, 6, 7]})
    chans = cio({"a": hr(1, 1), "b": hr(1, 2)})
    chans[1].app_specific_config = {"slave_id": 1, "register_range": "HOLDING_REGISTER", "register": 0}
    v, e = read(src, chans)
    assert v == {"a": 5} and "channel b: app_specific_config.register must be" in e["b"]


def test_write_through_codec():
    src = TableSource({1: [0, 0, 0, 0x1234]})
    ch = cio({"f": hr(1, 1, register_count=2, evaluation_mode="floating point: ieee754",
                      register_endianness="little")})[0]
    src.write(ch, 1.5)
    assert src.tables[1][:2] == [0x0000, 0x3FC0]
    assert src.read(ch) == 1.5
    m = cio({"m": hr(1, 4, bitmask="0x00F0")})[0]
    src.write(m, 0xA0)
    assert src.tables[1][3] == 0x12A4
