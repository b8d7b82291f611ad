"""Register decode/encode for Modbus channels (ExoSense app_specific_config).

One parsed Spec per channel, built once by parse() and cached by the source;
decode() here and encode() (modbus/encode.py, loaded for writes only) are used
unchanged by the portable RTU master and the pymodbus host path, so both report
bit-identical values.

Wire data handed to decode():
- register tables (HOLDING_REGISTER, INPUT_REGISTER): the data bytes of a read
  response, two per register, high byte first, exactly as on the wire;
- bit tables (HOLDING_COIL, INPUT_COIL): packed bits, first bit in the least
  significant bit of the first byte, exactly as on the wire.

Byte order (byte_endianness) is the order of the two bytes inside each
register, register order (register_endianness) the order of the registers of
a multi-register value: "big"/"big" is the Modbus convention (ABCD),
"little"/"big" swaps bytes (BADC), "big"/"little" swaps words (CDAB),
"little"/"little" is fully reversed (DCBA).
"""

import struct

# Tables, numbered by the function code that reads them.
HOLDING_COIL = 1
INPUT_COIL = 2
HOLDING_REGISTER = 3
INPUT_REGISTER = 4

RANGES = {
    "HOLDING_COIL": HOLDING_COIL,
    "INPUT_COIL": INPUT_COIL,
    "HOLDING_REGISTER": HOLDING_REGISTER,
    "INPUT_REGISTER": INPUT_REGISTER,
}
RANGE_NAMES = {1: "HOLDING_COIL", 2: "INPUT_COIL", 3: "HOLDING_REGISTER", 4: "INPUT_REGISTER"}

MODE_FLOAT = 0
MODE_SIGNED = 1
MODE_UNSIGNED = 2
MODE_STRING = 3

MODES = {
    "floating point: ieee754": MODE_FLOAT,
    "signed integer": MODE_SIGNED,
    "unsigned": MODE_UNSIGNED,
    "string-ascii": MODE_STRING,
    # forgiving spellings seen in hand-written configs
    "float": MODE_FLOAT,
    "ieee754": MODE_FLOAT,
    "signed": MODE_SIGNED,
    "unsigned integer": MODE_UNSIGNED,
    "string": MODE_STRING,
}

# Protocol limits per read request (Modbus Application Protocol v1.1b3).
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_WRITE_BITS = 1968
# Highest 1-based register number: register N is protocol address N - 1.
MAX_REGISTER = 65536

_scratch = bytearray(8)


class Spec:
    """A channel's parsed register settings."""

    def __init__(self):
        self.table = HOLDING_REGISTER
        self.address = 0  # 0-based protocol address
        self.count = 1
        self.byte_little = False
        self.word_little = False
        self.mode = MODE_UNSIGNED
        self.mask = None

    def is_bits(self):
        return self.table <= INPUT_COIL

    def writable(self):
        return self.table == HOLDING_COIL or self.table == HOLDING_REGISTER


def _int(asc, key, default, lo, hi):
    v = asc.get(key, default)
    if v is None or v == "":
        if default is None:
            raise ValueError("app_specific_config.%s is required" % key)
        v = default
    if isinstance(v, bool):
        raise ValueError("app_specific_config.%s must be an integer, got %r" % (key, v))
    if isinstance(v, str):
        s = v.strip()
        try:
            n = int(s, 16) if s[:2] in ("0x", "0X") else int(s, 10)
        except ValueError:
            raise ValueError("app_specific_config.%s must be an integer, got %r" % (key, v)) from None
    elif isinstance(v, int):
        n = v
    elif isinstance(v, float) and v == int(v):
        n = int(v)
    else:
        raise ValueError("app_specific_config.%s must be an integer, got %r" % (key, v))
    if n < lo or n > hi:
        raise ValueError("app_specific_config.%s must be %d..%d, got %d" % (key, lo, hi, n))
    return n


def parse_int(asc, key, default, lo, hi):
    """An integer setting given as int or numeric string (decimal, or 0x hex)."""
    return _int(asc, key, default, lo, hi)


def _choice(asc, key, default, options):
    v = asc.get(key, default)
    if v is None or v == "":
        v = default
    k = v.strip().lower() if isinstance(v, str) else v
    if k not in options:
        raise ValueError(
            'app_specific_config.%s must be one of %s, got "%s"' % (key, ", ".join(sorted(options)), v)
        )
    return options[k]


def _mask(asc):
    v = asc.get("bitmask")
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        raise ValueError("app_specific_config.bitmask must be a hex string, got %r" % (v,))
    if isinstance(v, int):
        n = v
    else:
        s = str(v).strip()
        if s[:2] in ("0x", "0X"):
            s = s[2:]
        try:
            n = int(s, 16)
        except ValueError:
            raise ValueError('app_specific_config.bitmask must be a hex string like "0x00FF", got %r' % (v,)) from None
    if n < 0:
        raise ValueError("app_specific_config.bitmask must not be negative")
    return n


_ENDIAN = {"big": False, "little": True}


def parse(asc):
    """Parse the register keys of app_specific_config into a Spec.

    Raises ValueError with a message naming the key.
    """
    if not isinstance(asc, dict):
        raise ValueError("app_specific_config must be an object")
    sp = Spec()
    rng = asc.get("register_range")
    if rng is None or rng == "":
        raise ValueError("app_specific_config.register_range is required")
    key = rng.strip().upper() if isinstance(rng, str) else rng
    if key not in RANGES:
        raise ValueError(
            'app_specific_config.register_range must be one of HOLDING_COIL, INPUT_COIL, '
            'INPUT_REGISTER, HOLDING_REGISTER, got "%s"' % (rng,)
        )
    sp.table = RANGES[key]
    sp.address = _int(asc, "register", None, 1, MAX_REGISTER) - 1
    bits = sp.table <= INPUT_COIL
    sp.count = _int(asc, "register_count", 1, 1, 64 if bits else MAX_READ_REGISTERS)
    if sp.address + sp.count > MAX_REGISTER:
        raise ValueError("app_specific_config.register + register_count runs past register 65536")
    sp.byte_little = _choice(asc, "byte_endianness", "big", _ENDIAN)
    sp.word_little = _choice(asc, "register_endianness", "big", _ENDIAN)
    sp.mode = _choice(asc, "evaluation_mode", "unsigned", MODES)
    sp.mask = _mask(asc)
    if bits:
        # Coils are bits: the value is the bits as an unsigned integer (first
        # coil = least significant bit); evaluation_mode does not apply.
        sp.mode = MODE_UNSIGNED
    elif sp.mode == MODE_FLOAT and sp.count not in (2, 4):
        raise ValueError(
            "app_specific_config.register_count must be 2 (float32) or 4 (float64) for "
            '"floating point: ieee754", got %d' % sp.count
        )
    elif sp.mode in (MODE_SIGNED, MODE_UNSIGNED) and sp.count > 4:
        raise ValueError(
            "app_specific_config.register_count must be 1..4 for integer modes, got %d" % sp.count
        )
    if sp.mask is not None and sp.mode == MODE_STRING:
        raise ValueError('app_specific_config.bitmask does not apply to "string-ascii"')
    return sp


# -- decode ---------------------------------------------------------------

def raw_value(sp, data, pos):
    """The value's registers as one unsigned integer in big-endian (ABCD) order."""
    n = sp.count
    v = 0
    for i in range(n):
        j = n - 1 - i if sp.word_little else i
        o = pos + 2 * j
        if sp.byte_little:
            w = (data[o + 1] << 8) | data[o]
        else:
            w = (data[o] << 8) | data[o + 1]
        v = (v << 16) | w
    return v


def _bits(sp, data, bit):
    v = 0
    for i in range(sp.count):
        b = bit + i
        if (data[b >> 3] >> (b & 7)) & 1:
            v |= 1 << i
    return v


def decode(sp, data, index):
    """Decode a channel's value.

    data: wire data of a read response; index: the channel's position in it,
    counted in registers (register tables) or bits (coil tables).
    Raises ValueError for values that cannot be reported (NaN, infinity).
    """
    if sp.table <= INPUT_COIL:
        v = _bits(sp, data, index)
        if sp.mask is not None:
            v &= sp.mask
        return v
    pos = 2 * index
    if sp.mode == MODE_STRING:
        return _string(sp, data, pos)
    v = raw_value(sp, data, pos)
    if sp.mask is not None:
        v &= sp.mask
    if sp.mode == MODE_UNSIGNED:
        return v
    nbits = 16 * sp.count
    if sp.mode == MODE_SIGNED:
        if v >> (nbits - 1):
            v -= 1 << nbits
        return v
    # floating point: the raw bits, big-endian, through struct
    nb = 2 * sp.count
    for i in range(nb):
        _scratch[i] = (v >> (8 * (nb - 1 - i))) & 0xFF
    f = struct.unpack_from(">f" if nb == 4 else ">d", _scratch, 0)[0]
    if f != f:
        raise ValueError("value is not a number (NaN)")
    if f in (float("inf"), float("-inf")):
        raise ValueError("value is infinite")
    return f


def _string(sp, data, pos):
    n = sp.count
    out = bytearray(2 * n)
    k = 0
    for i in range(n):
        j = n - 1 - i if sp.word_little else i
        o = pos + 2 * j
        if sp.byte_little:
            out[k] = data[o + 1]
            out[k + 1] = data[o]
        else:
            out[k] = data[o]
            out[k + 1] = data[o + 1]
        k += 2
    end = len(out)
    while end and out[end - 1] in (0, 32):
        end -= 1
    for i in range(end):
        if out[i] > 126 or (out[i] < 32 and out[i] not in (9, 10, 13)):
            out[i] = 63  # "?": keep the report valid text
    return str(bytes(out[:end]), "ascii")


# -- pymodbus register and bit lists <-> wire bytes (gateways) --------------

def registers_to_bytes(regs, out=None):
    """pymodbus register list -> wire bytes (reuses out when it is big enough)."""
    n = len(regs)
    if out is None or len(out) < 2 * n:
        out = bytearray(2 * n)
    for i in range(n):
        r = regs[i]
        out[2 * i] = (r >> 8) & 0xFF
        out[2 * i + 1] = r & 0xFF
    return out


def bytes_to_registers(data):
    return [(data[2 * i] << 8) | data[2 * i + 1] for i in range(len(data) // 2)]


def bits_to_bytes(bits, count, out=None):
    """pymodbus bit list -> packed wire bits."""
    nb = (count + 7) >> 3
    if out is None or len(out) < nb:
        out = bytearray(nb)
    for i in range(nb):
        out[i] = 0
    for i in range(count):
        if bits[i]:
            out[i >> 3] |= 1 << (i & 7)
    return out
