"""Register and coil writes for Modbus channels: a data_out value -> wire bytes
in the channel's byte and register order (the inverse of codec.decode).

Only a control write needs it, so the engine imports it on first use.
"""

import struct

from uedge.modbus.codec import MODE_FLOAT, MODE_SIGNED, MODE_STRING, raw_value


def _to_int(value, what):
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value != int(value):
            raise ValueError("%s needs an integer value, got %r" % (what, value))
        return int(value)
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("true", "on"):
            return 1
        if s in ("false", "off"):
            return 0
        try:
            return int(s, 16) if s[:2] == "0x" else int(s)
        except ValueError:
            try:
                return _to_int(float(s), what)
            except ValueError:
                pass
    raise ValueError("%s needs an integer value, got %r" % (what, value))


def encode_bits(sp, value):
    """A list of 0/1 for a coil write, first coil first."""
    v = _to_int(value, "coil")
    if v < 0 or v >> sp.count:
        raise ValueError("value %d does not fit %d coil(s)" % (v, sp.count))
    return [(v >> i) & 1 for i in range(sp.count)]


def encode(sp, value):
    """Wire bytes (2 per register, in register order) for a register write."""
    n = sp.count
    nbits = 16 * n
    if sp.mode == MODE_STRING:
        s = value if isinstance(value, str) else str(value)
        raw = s.encode()
        if len(raw) > 2 * n:
            raise ValueError("string of %d bytes does not fit %d registers" % (len(raw), n))
        ordered = bytearray(2 * n)
        ordered[: len(raw)] = raw
        v = None
    elif sp.mode == MODE_FLOAT:
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError("floating point register needs a number, got %r" % (value,)) from None
        ordered = bytearray(struct.pack(">f" if n == 2 else ">d", f))
        v = None
    else:
        v = _to_int(value, "register")
        if sp.mode == MODE_SIGNED:
            if v < -(1 << (nbits - 1)) or v >= (1 << (nbits - 1)):
                raise ValueError("value %d does not fit a signed %d-bit register value" % (v, nbits))
            v &= (1 << nbits) - 1
        elif v < 0 or v >> nbits:
            raise ValueError("value %d does not fit an unsigned %d-bit register value" % (v, nbits))
        ordered = _big_endian(v, n)
    return _wire_order(sp, ordered)


def _big_endian(v, n):
    """Unsigned v as 2*n big-endian (ABCD) bytes."""
    out = bytearray(2 * n)
    for i in range(2 * n):
        out[i] = (v >> (8 * (2 * n - 1 - i))) & 0xFF
    return out


def _wire_order(sp, ordered):
    """Big-endian (ABCD) register bytes -> the channel's byte/register order."""
    n = sp.count
    out = bytearray(2 * n)
    for i in range(n):
        j = n - 1 - i if sp.word_little else i
        hi = ordered[2 * i]
        lo = ordered[2 * i + 1]
        if sp.byte_little:
            out[2 * j] = lo
            out[2 * j + 1] = hi
        else:
            out[2 * j] = hi
            out[2 * j + 1] = lo
    return out


def merge_masked(sp, old, new):
    """Read-modify-write for a masked register channel: keep bits outside the mask."""
    mask = sp.mask
    a = raw_value(sp, old, 0)
    b = raw_value(sp, new, 0)
    v = (a & ~mask) | (b & mask)
    return _wire_order(sp, _big_endian(v, sp.count))
