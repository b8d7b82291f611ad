# Register codec: every evaluation mode, endianness combination and bitmask,
# checked against byte strings built independently with struct.
import struct

from ptest import EPS, FLOAT32, approx, raises
from uedge.modbus import codec, encode


def spec(**kw):
    asc = {"register_range": "HOLDING_REGISTER", "register": 1}
    asc.update(kw)
    return codec.parse(asc)


def arrange(abcd, byte_order, reg_order):
    """Wire bytes for a big-endian value laid out with the given orders."""
    regs = [abcd[i:i + 2] for i in range(0, len(abcd), 2)]
    if reg_order == "little":
        regs.reverse()
    out = b""
    for r in regs:
        out += bytes([r[1], r[0]]) if byte_order == "little" else r
    return out


ORDERS = (("big", "big"), ("little", "big"), ("big", "little"), ("little", "little"))


def test_register_numbering_is_one_based():
    assert spec(register=1).address == 0
    assert spec(register="0001").address == 0
    assert spec(register="40").address == 39
    assert spec(register=9999).address == 9998


def test_register_range_validation_names_the_key():
    e = raises(ValueError, spec, register=0)
    assert "app_specific_config.register" in str(e) and "got 0" in str(e)
    e = raises(ValueError, spec, register="abc")
    assert "app_specific_config.register must be an integer" in str(e)
    e = raises(ValueError, codec.parse, {"register": 1})
    assert "register_range is required" in str(e)
    e = raises(ValueError, spec, register_range="HOLDING")
    assert "register_range must be one of" in str(e)
    e = raises(ValueError, spec, evaluation_mode="double")
    assert "evaluation_mode must be one of" in str(e)
    e = raises(ValueError, spec, byte_endianness="middle")
    assert "byte_endianness" in str(e)
    e = raises(ValueError, spec, evaluation_mode="floating point: ieee754", register_count=1)
    assert "register_count must be 2" in str(e)
    e = raises(ValueError, spec, register_count=126)
    assert "register_count must be 1..125" in str(e)
    e = raises(ValueError, spec, bitmask="zz")
    assert "bitmask" in str(e)
    e = raises(ValueError, spec, evaluation_mode="string-ascii", bitmask="0xff")
    assert "bitmask" in str(e)


def test_float32_all_orders():
    for v in (1.5, -273.25, 3.4e38, 0.0):
        abcd = struct.pack(">f", v)
        for bo, ro in ORDERS:
            sp = spec(evaluation_mode="floating point: ieee754", register_count=2,
                      byte_endianness=bo, register_endianness=ro)
            got = codec.decode(sp, arrange(abcd, bo, ro), 0)
            assert struct.pack(">f", got) == abcd, (v, bo, ro, got)


def test_float64_all_orders():
    # A board with single-precision floats decodes a float64 register pair into
    # the nearest float32: precision to float32's, and out of its range infinite,
    # which is an error (never a silent inf in data_in).
    for v in (1.0 / 3.0, -1e30, 123456.789):
        abcd = struct.pack(">d", v)
        for bo, ro in ORDERS:
            sp = spec(evaluation_mode="floating point: ieee754", register_count=4,
                      byte_endianness=bo, register_endianness=ro)
            got = codec.decode(sp, arrange(abcd, bo, ro), 0)
            assert approx(got, v, EPS), (v, bo, ro, got)
    big = b"\xfe\x37\xe4\x3c\x88\x00\x75\x9c"  # -1e300 as IEEE 754 binary64, big-endian
    sp = spec(evaluation_mode="floating point: ieee754", register_count=4)
    if FLOAT32:
        assert "infinite" in str(raises(ValueError, codec.decode, sp, big, 0))
    else:
        assert approx(codec.decode(sp, big, 0), -1e300, EPS)


def test_integers_all_orders_and_widths():
    cases = (
        (1, ">h", -12345), (1, ">H", 54321),
        (2, ">i", -123456789), (2, ">I", 4023456789),
        (4, ">q", -1234567890123456789), (4, ">Q", 12345678901234567890),
    )
    for count, fmt, v in cases:
        mode = "signed integer" if fmt[1].islower() else "unsigned"
        abcd = struct.pack(fmt, v)
        for bo, ro in ORDERS:
            sp = spec(evaluation_mode=mode, register_count=count,
                      byte_endianness=bo, register_endianness=ro)
            assert codec.decode(sp, arrange(abcd, bo, ro), 0) == v, (fmt, bo, ro)
            assert bytes(encode.encode(sp, v)) == arrange(abcd, bo, ro), (fmt, bo, ro)


def test_string_ascii_orders_and_padding():
    text = b"uEdge-01"
    for bo, ro in ORDERS:
        sp = spec(evaluation_mode="string-ascii", register_count=5,
                  byte_endianness=bo, register_endianness=ro)
        wire = arrange(text + b"\x00\x00", bo, ro)
        assert codec.decode(sp, wire, 0) == "uEdge-01"
        assert bytes(encode.encode(sp, "uEdge-01")) == wire


def test_decode_at_index_in_a_block():
    block = b"\x00\x00" * 3 + struct.pack(">i", -2) + b"\x12\x34"
    sp = spec(evaluation_mode="signed integer", register_count=2)
    assert codec.decode(sp, block, 3) == -2
    assert codec.decode(spec(), block, 5) == 0x1234


def test_bitmask():
    sp = spec(bitmask="0x00F0")
    assert codec.decode(sp, b"\xAB\xCD", 0) == 0xC0
    sp = spec(bitmask="FF00", evaluation_mode="signed integer")
    assert codec.decode(sp, b"\xFF\x12", 0) == -256
    sp = spec(bitmask=0x8000)
    assert codec.decode(sp, b"\x80\x01", 0) == 0x8000
    # masked write keeps the bits outside the mask
    sp = spec(bitmask="0x0F00")
    new = encode.merge_masked(sp, b"\xAB\xCD", encode.encode(sp, 0x0500))
    assert bytes(new) == b"\xA5\xCD"


def test_coils_bits():
    sp = codec.parse({"register_range": "HOLDING_COIL", "register": 3})
    assert sp.is_bits() and sp.address == 2
    assert codec.decode(sp, b"\x04", 2) == 1
    assert codec.decode(sp, b"\x04", 1) == 0
    sp = codec.parse({"register_range": "INPUT_COIL", "register": 1, "register_count": 10})
    assert codec.decode(sp, b"\x01\x02", 0) == 0x201
    sp = codec.parse({"register_range": "INPUT_COIL", "register": 1, "register_count": 10,
                      "bitmask": "0x200"})
    assert codec.decode(sp, b"\x01\x02", 0) == 0x200
    sp = codec.parse({"register_range": "HOLDING_COIL", "register": 1, "register_count": 3})
    assert encode.encode_bits(sp, 5) == [1, 0, 1]
    assert encode.encode_bits(codec.parse({"register_range": "HOLDING_COIL", "register": 1}), True) == [1]


def test_nan_is_an_error_not_a_value():
    sp = spec(evaluation_mode="floating point: ieee754", register_count=2)
    e = raises(ValueError, codec.decode, sp, b"\x7f\xc0\x00\x00", 0)
    assert "NaN" in str(e)


def test_encode_range_checks():
    e = raises(ValueError, encode.encode, spec(), 70000)
    assert "does not fit" in str(e)
    e = raises(ValueError, encode.encode, spec(evaluation_mode="signed integer"), 40000)
    assert "does not fit" in str(e)
    assert bytes(encode.encode(spec(evaluation_mode="signed integer"), -1)) == b"\xff\xff"
    assert bytes(encode.encode(spec(), "0x1234")) == b"\x12\x34"
    assert bytes(encode.encode(spec(evaluation_mode="floating point: ieee754", register_count=2),
                              2.5)) == struct.pack(">f", 2.5)


def test_pymodbus_conversions():
    regs = [0x1234, 0xABCD]
    assert bytes(codec.registers_to_bytes(regs)) == b"\x12\x34\xab\xcd"
    assert codec.bytes_to_registers(b"\x12\x34\xab\xcd") == regs
    assert bytes(codec.bits_to_bytes([1, 0, 0, 0, 0, 0, 0, 0, 1], 9)) == b"\x01\x01"
