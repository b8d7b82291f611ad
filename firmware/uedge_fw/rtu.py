"""Board glue for Modbus RTU: open the profile's UARTs with their pins and RS-485 DE line.

config_applications names a UART of the board profile ("UART1"); this factory
builds the machine.UART on the profile's tx/rx pins and, when the profile has
a driver-enable pin (MAX485 DE/RE), raises it only while a request is sent.
Interfaces the profile does not name fall back to the source's default.
"""

import machine


class DEUart:
    """A UART whose writes key an RS-485 transmitter (half duplex)."""

    def __init__(self, uart, de_pin):
        self.uart = uart
        self.de = de_pin
        self.de.value(0)
        if hasattr(uart, "fileno"):  # the simulated UART: poll by descriptor
            self.fileno = uart.fileno

    def write(self, buf):
        self.de.value(1)
        try:
            n = self.uart.write(buf)
            flush = getattr(self.uart, "flush", None)
            if flush is not None:
                flush()  # returns once the last stop bit has left the shift register
        finally:
            self.de.value(0)
        return n

    def readinto(self, buf, n=None):
        return self.uart.readinto(buf) if n is None else self.uart.readinto(buf, n)

    def read(self, n=None):
        return self.uart.read(n)

    def any(self):
        return self.uart.any()

    def close(self):
        deinit = getattr(self.uart, "deinit", None)
        if deinit is not None:
            deinit()


class StreamFactory:
    """Callable (interface, app_config) -> UART-like stream for ModbusRTUSource."""

    def __init__(self, board, fallback):
        self.uarts = {}
        for name, spec in (getattr(board, "UARTS", None) or {}).items():
            self.uarts[name.lower()] = spec
            self.uarts[str(spec["id"])] = spec
        self.fallback = fallback

    def lookup(self, interface):
        name = interface.lower()
        spec = self.uarts.get(name)
        if spec is None and name.startswith("uart"):
            spec = self.uarts.get(name[4:])
        return spec

    def __call__(self, interface, cfg):
        spec = self.lookup(interface)
        if spec is None:
            return self.fallback(interface, cfg)
        from uedge.sources.modbus_rtu import serial_settings

        baud, bits, parity, stop = serial_settings(cfg)
        kw = {
            "baudrate": baud,
            "bits": bits,
            "parity": {"none": None, "even": 0, "odd": 1}[parity],
            "stop": stop,
            "timeout": 0,
        }
        tx = cfg.get("tx", spec.get("tx"))
        rx = cfg.get("rx", spec.get("rx"))
        if tx is not None:
            kw["tx"] = machine.Pin(tx)
        if rx is not None:
            kw["rx"] = machine.Pin(rx)
        uart = machine.UART(spec["id"], **kw)
        de = spec.get("de")
        if de is None:
            return uart
        return DEUart(uart, machine.Pin(de, machine.Pin.OUT, value=0))


def install(board):
    """Make ModbusRTUSource open UARTs through the board profile."""
    from uedge.sources import modbus_rtu

    modbus_rtu.ModbusRTUSource.stream_factory = StreamFactory(board, modbus_rtu.default_stream)
