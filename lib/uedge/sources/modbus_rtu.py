"""Source "Modbus_RTU": the portable RTU master on a board UART (or a POSIX tty).

config_applications interface entry (app_config):
  interface   "uart1" / "UART1" / "1" -> machine.UART(1); "/dev/..." -> POSIX tty
  baud_rate   default 19200; data_bits 8|7; parity "none"|"even"|"odd";
  stop_bits   1|2 (0 is read as 1)
  uedge extensions: timeout_ms (response timeout, default 500), latency_ms
  (pause allowed inside a response for bursty adapters: default 0 on a UART,
  20 on a device path), tx/rx (UART
  pins), max_gap / max_count (coalescing), retry_ms / retry_max_ms (backoff).

Channel app_specific_config: slave_id (1..247) plus the register keys of
uedge.modbus.codec (register_range, register, register_count, byte_endianness,
register_endianness, evaluation_mode, bitmask).

A board's firmware may set ModbusRTUSource.stream_factory to a function
(interface, app_config) -> UART-like stream when its UARTs need special setup.
"""

from uedge.modbus import ModbusPortError, codec
from uedge.modbus.engine import ModbusSource
from uedge.modbus.rtu import RTUMaster
from uedge.sources import SourceError, register

_PARITY = {"none": "none", "n": "none", "even": "even", "e": "even", "odd": "odd", "o": "odd"}


def serial_settings(cfg):
    """(baud, data_bits, parity, stop_bits) from a config_applications interface entry."""
    def num(key, default, allowed):
        v = cfg.get(key, default)
        try:
            n = int(v)
        except (TypeError, ValueError):
            n = None
        if n is None or (allowed and n not in allowed) or n <= 0 and key != "stop_bits":
            raise SourceError("config_applications interface %s: %s must be one of %s, got %r"
                              % (cfg.get("interface", ""), key, allowed or "a positive integer", v))
        return n

    baud = num("baud_rate", 19200, None)
    data_bits = num("data_bits", 8, (7, 8))
    stop_bits = num("stop_bits", 1, (0, 1, 2)) or 1
    p = cfg.get("parity", "none")
    parity = _PARITY.get(str(p).lower())
    if parity is None:
        raise SourceError('config_applications interface %s: parity must be one of even, odd, none, got "%s"'
                          % (cfg.get("interface", ""), p))
    return baud, data_bits, parity, stop_bits


def default_stream(interface, cfg):
    baud, data_bits, parity, stop_bits = serial_settings(cfg)
    if interface.startswith("/"):
        from uedge.modbus.tty import Tty

        return Tty(interface, baud, data_bits, parity, stop_bits)
    import machine

    name = interface.lower()
    if name.startswith("uart"):
        name = name[4:]
    try:
        uart_id = int(name)
    except ValueError:
        raise SourceError('Modbus_RTU interface must be "uartN" or a device path, got "%s"'
                          % interface) from None
    kw = {"baudrate": baud, "bits": data_bits, "stop": stop_bits, "timeout": 0,
          "parity": {"none": None, "even": 0, "odd": 1}[parity]}
    if "tx" in cfg:
        kw["tx"] = cfg["tx"]
    if "rx" in cfg:
        kw["rx"] = cfg["rx"]
    return machine.UART(uart_id, **kw)


class ModbusRTUSource(ModbusSource):
    stream_factory = None

    @classmethod
    def parse_channel(cls, asc):
        unit = codec.parse_int(asc, "slave_id", None, 1, 247)
        return unit, codec.parse(asc)

    def __init__(self, application, interface, app_config):
        ModbusSource.__init__(self, application, interface, app_config)
        self.settings = serial_settings(self.app_config)
        cfg = self.app_config
        self.timeout_ms = codec.parse_int(cfg, "timeout_ms", 500, 1, 60000)
        # A board UART hands over bytes as they arrive; a Linux tty (USB
        # adapter) may hold them back for its latency timer (16 ms on FTDI).
        self.latency_ms = codec.parse_int(cfg, "latency_ms", 20 if interface.startswith("/") else 0,
                                          0, 1000)
        self.stream = None
        self.master = None

    def device_label(self, dev):
        return "%s unit %d" % (self.interface, dev)

    def open(self):
        try:
            self._connect()
        except ModbusPortError:
            pass  # retried on the next read; the channels report why

    def _connect(self):
        if self.master is not None:
            return self.master
        factory = self.stream_factory or default_stream
        try:
            self.stream = factory(self.interface, self.app_config)
        except OSError as e:
            raise ModbusPortError("cannot open %s: %s" % (self.interface, e)) from None
        baud, data_bits, parity, stop_bits = self.settings
        self.master = RTUMaster(self.stream, baud, data_bits, parity, stop_bits,
                                self.timeout_ms, self.latency_ms)
        return self.master

    def _link_failed(self, dev, err):
        if isinstance(err, ModbusPortError):
            self.close()

    def close(self):
        s = self.stream
        self.stream = None
        self.master = None
        if s is not None and hasattr(s, "close"):
            try:
                s.close()
            except Exception:
                pass

    def _read_block(self, dev, fc, start, count):
        return self._connect().read(dev, fc, start, count)

    def _write_bits(self, dev, address, bits):
        m = self._connect()
        if len(bits) == 1:
            m.write_coil(dev, address, bits[0])
        else:
            m.write_coils(dev, address, bits)

    def _write_registers(self, dev, address, data):
        m = self._connect()
        if len(data) == 2:
            m.write_register(dev, address, (data[0] << 8) | data[1])
        else:
            m.write_registers(dev, address, data)


def register_source():
    register("Modbus_RTU", ModbusRTUSource)
