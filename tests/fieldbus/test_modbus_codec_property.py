"""Property check of the register codec against struct, over random values and
every byte/register order (hypothesis)."""

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from uedge.modbus import codec, encode

ORDERS = st.sampled_from([("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")])
INTS = st.sampled_from([(1, "h"), (1, "H"), (2, "i"), (2, "I"), (4, "q"), (4, "Q")])


def lay(abcd, bo, ro):
    words = [abcd[i:i + 2] for i in range(0, len(abcd), 2)]
    if ro == "little":
        words = words[::-1]
    if bo == "little":
        words = [w[::-1] for w in words]
    return b"".join(words)


@settings(max_examples=300, deadline=None)
@given(INTS, ORDERS, st.data())
def test_integers_roundtrip_and_match_struct(kind, order, data):
    count, code = kind
    bits = 16 * count
    signed = code.islower()
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    value = data.draw(st.integers(lo, hi))
    sp = codec.parse({"register_range": "HOLDING_REGISTER", "register": 1, "register_count": count,
                      "byte_endianness": order[0], "register_endianness": order[1],
                      "evaluation_mode": "signed integer" if signed else "unsigned"})
    wire = lay(struct.pack(">" + code, value), *order)
    assert bytes(encode.encode(sp, value)) == wire
    assert codec.decode(sp, b"\x00\x00" + wire, 1) == value


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([(2, "f"), (4, "d")]), ORDERS, st.floats(allow_nan=False, allow_infinity=False,
                                                                 width=32))
def test_floats_roundtrip_and_match_struct(kind, order, value):
    count, code = kind
    sp = codec.parse({"register_range": "INPUT_REGISTER", "register": 1, "register_count": count,
                      "byte_endianness": order[0], "register_endianness": order[1],
                      "evaluation_mode": "floating point: ieee754"})
    abcd = struct.pack(">" + code, value)
    assert bytes(encode.encode(sp, value)) == lay(abcd, *order)
    got = codec.decode(sp, lay(abcd, *order), 0)
    assert struct.pack(">" + code, got) == abcd


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_masked_write_keeps_other_bits(old, new, mask):
    sp = codec.parse({"register_range": "HOLDING_REGISTER", "register": 1, "bitmask": hex(mask)})
    merged = encode.merge_masked(sp, struct.pack(">H", old), encode.encode(sp, new))
    assert struct.unpack(">H", bytes(merged))[0] == (old & ~mask & 0xFFFF) | (new & mask)
