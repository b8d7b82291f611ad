# RTU framing: CRC-16, request building, response parsing, timing constants.
from ptest import raises
from uedge.modbus import ModbusCRCError, ModbusException, ModbusFrameError, exception_text
from uedge.modbus import rtu


def test_crc_known_vectors():
    # textbook frames: read 10 holding registers from unit 1 ...
    assert rtu.crc16(b"\x01\x03\x00\x00\x00\x0a") == 0xCDC5
    # ... and read 1 input register
    assert rtu.crc16(b"\x01\x04\x00\x00\x00\x01") == 0xCA31
    assert rtu.crc16(b"") == 0xFFFF


def test_build_read_request():
    buf = bytearray(16)
    n = rtu.build_read(buf, 1, 3, 0, 10)
    assert bytes(buf[:n]) == b"\x01\x03\x00\x00\x00\x0a\xc5\xcd"
    n = rtu.build_read(buf, 0x11, 1, 0x13, 0x25)
    assert bytes(buf[:6]) == b"\x11\x01\x00\x13\x00\x25" and rtu.check_crc(buf, n)


def test_build_writes():
    buf = bytearray(64)
    n = rtu.build_write_single(buf, 0x11, 5, 0xAC, 0xFF00)
    assert bytes(buf[:6]) == b"\x11\x05\x00\xac\xff\x00" and n == 8 and rtu.check_crc(buf, n)
    n = rtu.build_write_single(buf, 0x11, 6, 1, 3)
    assert bytes(buf[:6]) == b"\x11\x06\x00\x01\x00\x03"
    n = rtu.build_write_multiple(buf, 0x11, 16, 1, 2, b"\x00\x0a\x01\x02")
    assert bytes(buf[:11]) == b"\x11\x10\x00\x01\x00\x02\x04\x00\x0a\x01\x02" and n == 13
    n = rtu.build_write_multiple(buf, 0x11, 15, 0x13, 10, b"\xcd\x01")
    assert bytes(buf[:9]) == b"\x11\x0f\x00\x13\x00\x0a\x02\xcd\x01" and rtu.check_crc(buf, n)


def frame(body):
    buf = bytearray(len(body) + 2)
    buf[: len(body)] = body
    rtu.put_crc(buf, len(body))
    return buf


def test_response_length():
    f = frame(b"\x01\x03\x04\x00\x01\x00\x02")
    assert rtu.response_length(f, 1) == 0
    assert rtu.response_length(f, 2) == 0
    assert rtu.response_length(f, 3) == 9
    assert rtu.response_length(frame(b"\x01\x83\x02"), 2) == 5
    assert rtu.response_length(frame(b"\x01\x06\x00\x01\x00\x03"), 2) == 8
    assert rtu.response_length(b"\x01\x42", 2) == -1


def test_parse_response_ok_exception_crc():
    f = frame(b"\x01\x03\x04\x00\x01\x00\x02")
    assert rtu.parse_response(f, len(f), 1, 3) == (3, 4)
    e = raises(ModbusException, rtu.parse_response, frame(b"\x01\x83\x02"), 5, 1, 3)
    assert e.code == 2 and "ILLEGAL DATA ADDRESS (2)" in str(e)
    f[4] ^= 0x01
    raises(ModbusCRCError, rtu.parse_response, f, len(f), 1, 3)
    raises(ModbusFrameError, rtu.parse_response, frame(b"\x02\x03\x02\x00\x01"), 7, 1, 3)
    raises(ModbusFrameError, rtu.parse_response, frame(b"\x01\x04\x02\x00\x01"), 7, 1, 3)


def test_exception_names():
    assert exception_text(1) == "ILLEGAL FUNCTION (1)"
    assert exception_text(2) == "ILLEGAL DATA ADDRESS (2)"
    assert exception_text(11) == "GATEWAY TARGET DEVICE FAILED TO RESPOND (11)"
    assert exception_text(99) == "UNKNOWN EXCEPTION (99)"


def test_char_time_and_frame_gap():
    # 8N1 = 10 bits a character
    assert rtu.char_time_us(9600) == 1042
    assert rtu.char_time_us(9600, 8, "even", 1) == 1146
    assert rtu.char_time_us(115200) == 87
    assert rtu.expected_data_bytes(1, 10) == 2
    assert rtu.expected_data_bytes(3, 10) == 20
