"""Modbus_TCP and Modbus_RTU for Linux gateways, on pymodbus (+ pyserial).

Channel settings, coalescing, decoding, backoff and error messages are the
portable ones (uedge.modbus.engine / codec / plan); only the transport is
pymodbus here, so a channel reads the same value on a board and a gateway.

Modbus_TCP channel keys: ip_address, port (default 502), slave_id (uedge
extension, default 1: the unit identifier) + the register keys.
Modbus_RTU channel keys: slave_id + the register keys; the interface entry of
config_applications gives the port (interface), baud_rate, parity, stop_bits,
data_bits. Both accept timeout_ms (default 1000 / 500), max_gap, max_count,
retry_ms, retry_max_ms in the interface entry (uedge extensions).
"""

import logging

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.exceptions import ModbusException as PymodbusError
from uedge.modbus import (
    ModbusException,
    ModbusFrameError,
    ModbusPortError,
    ModbusTimeout,
    codec,
)
from uedge.modbus.engine import ModbusSource
from uedge.sources import SourceError
from uedge.sources.modbus_rtu import serial_settings

try:
    from serial import SerialException
except ImportError:  # pragma: no cover
    SerialException = OSError

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

_PARITY = {"none": "N", "even": "E", "odd": "O"}


def _call(fn, *args, **kw):
    """Run a pymodbus request; map its failures onto uedge.modbus errors."""
    try:
        r = fn(*args, **kw)
    except ConnectionException as e:
        raise ModbusPortError(str(e) or "connection lost") from None
    except ModbusIOException as e:
        text = str(e)
        if "No response" in text or "timeout" in text.lower() or "retries" in text:
            raise ModbusTimeout("no response (%s)" % text) from None
        raise ModbusPortError(text) from None
    except (SerialException, OSError) as e:
        raise ModbusPortError("port error: %s" % e) from None
    except PymodbusError as e:
        raise ModbusFrameError(str(e)) from None
    if r.isError():
        code = getattr(r, "exception_code", None)
        if code:
            raise ModbusException(code, getattr(r, "function_code", 0) & 0x7F)
        raise ModbusTimeout("no response (%s)" % r)
    return r


class _PymodbusSource(ModbusSource):
    default_timeout_ms = 1000

    def __init__(self, application, interface, app_config):
        ModbusSource.__init__(self, application, interface, app_config)
        self.timeout_s = codec.parse_int(self.app_config, "timeout_ms", self.default_timeout_ms,
                                         1, 60000) / 1000.0
        self._buf = bytearray(256)

    def _client(self, dev):
        raise NotImplementedError

    def _read_block(self, dev, fc, start, count):
        c = self._client(dev)
        unit = dev[-1]
        if fc == 1:
            r = _call(c.read_coils, start, count=count, device_id=unit)
        elif fc == 2:
            r = _call(c.read_discrete_inputs, start, count=count, device_id=unit)
        elif fc == 3:
            r = _call(c.read_holding_registers, start, count=count, device_id=unit)
        else:
            r = _call(c.read_input_registers, start, count=count, device_id=unit)
        if fc <= 2:
            if len(r.bits) < count:
                raise ModbusFrameError("short response: %d bits, expected %d" % (len(r.bits), count))
            return codec.bits_to_bytes(r.bits, count, self._buf)
        if len(r.registers) != count:
            raise ModbusFrameError("short response: %d registers, expected %d"
                                   % (len(r.registers), count))
        return codec.registers_to_bytes(r.registers, self._buf)

    def _write_bits(self, dev, address, bits):
        c = self._client(dev)
        if len(bits) == 1:
            _call(c.write_coil, address, bool(bits[0]), device_id=dev[-1])
        else:
            _call(c.write_coils, address, [bool(b) for b in bits], device_id=dev[-1])

    def _write_registers(self, dev, address, data):
        c = self._client(dev)
        regs = codec.bytes_to_registers(data)
        if len(regs) == 1:
            _call(c.write_register, address, regs[0], device_id=dev[-1])
        else:
            _call(c.write_registers, address, regs, device_id=dev[-1])


class ModbusTCPSource(_PymodbusSource):
    """Source "Modbus_TCP": one connection per (ip_address, port), shared by its units."""

    @classmethod
    def parse_channel(cls, asc):
        ip = asc.get("ip_address")
        if not isinstance(ip, str) or not ip.strip():
            raise ValueError("app_specific_config.ip_address is required (a string)")
        port = codec.parse_int(asc, "port", 502, 1, 65535)
        unit = codec.parse_int(asc, "slave_id", 1, 0, 255)
        return (ip.strip(), port, unit), codec.parse(asc)

    def __init__(self, application, interface, app_config):
        _PymodbusSource.__init__(self, application, interface, app_config)
        self.clients = {}

    def device_label(self, dev):
        return "%s:%d unit %d" % dev

    def _client(self, dev):
        key = dev[:2]
        c = self.clients.get(key)
        if c is None:
            c = ModbusTcpClient(dev[0], port=dev[1], timeout=self.timeout_s, retries=0,
                                reconnect_delay=0)
            self.clients[key] = c
        if not c.connected and not c.connect():
            raise ModbusPortError("cannot connect to %s:%d" % key)
        return c

    def _link_failed(self, dev, err):
        c = self.clients.pop(dev[:2], None)
        if c is not None:
            c.close()

    def close(self):
        for c in self.clients.values():
            c.close()
        self.clients.clear()


class ModbusRTUHostSource(_PymodbusSource):
    """Source "Modbus_RTU" on a gateway: pymodbus over pyserial."""

    default_timeout_ms = 500

    @classmethod
    def parse_channel(cls, asc):
        unit = codec.parse_int(asc, "slave_id", None, 1, 247)
        return (unit,), codec.parse(asc)

    def __init__(self, application, interface, app_config):
        _PymodbusSource.__init__(self, application, interface, app_config)
        if not interface:
            raise SourceError("Modbus_RTU needs an interface (serial port path)")
        self.settings = serial_settings(self.app_config)
        self.client = None

    def device_label(self, dev):
        return "%s unit %d" % (self.interface, dev[0])

    def _client(self, dev):
        if self.client is None:
            baud, data_bits, parity, stop_bits = self.settings
            self.client = ModbusSerialClient(
                self.interface, baudrate=baud, bytesize=data_bits, parity=_PARITY[parity],
                stopbits=stop_bits, timeout=self.timeout_s, retries=0, reconnect_delay=0)
        if not self.client.connected and not self.client.connect():
            self.client = None
            raise ModbusPortError("cannot open %s" % self.interface)
        return self.client

    def _link_failed(self, dev, err):
        if isinstance(err, ModbusPortError):
            self.close()

    def close(self):
        c = self.client
        self.client = None
        if c is not None:
            c.close()
