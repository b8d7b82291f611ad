"""Modbus support shared by the portable RTU master and the host (pymodbus) sources.

codec.py  register decode/encode (the ExoSense app_specific_config keys)
rtu.py    portable RTU master over any UART-like byte stream
plan.py   coalescing channels into as few requests as the layout allows
engine.py the device loop both kinds of source share: plan, execute, backoff
"""

# Modbus exception codes (Modbus Application Protocol v1.1b3, section 7).
EXCEPTION_NAMES = {
    1: "ILLEGAL FUNCTION",
    2: "ILLEGAL DATA ADDRESS",
    3: "ILLEGAL DATA VALUE",
    4: "SERVER DEVICE FAILURE",
    5: "ACKNOWLEDGE",
    6: "SERVER DEVICE BUSY",
    8: "MEMORY PARITY ERROR",
    10: "GATEWAY PATH UNAVAILABLE",
    11: "GATEWAY TARGET DEVICE FAILED TO RESPOND",
}


def exception_text(code):
    return "%s (%d)" % (EXCEPTION_NAMES.get(code, "UNKNOWN EXCEPTION"), code)


class ModbusError(Exception):
    """A Modbus transaction failed."""

    # True when the failure says nothing about the device being alive
    # (no answer, broken line, port gone): the engine backs off the device.
    link = True


class ModbusTimeout(ModbusError):
    pass


class ModbusCRCError(ModbusError):
    pass


class ModbusFrameError(ModbusError):
    pass


class ModbusPortError(ModbusError):
    """The serial port or socket itself failed (unplugged, closed, refused)."""


class ModbusException(ModbusError):
    """The device answered with a Modbus exception response: it is alive."""

    link = False

    def __init__(self, code, function=0):
        self.code = code
        self.function = function
        super().__init__("Modbus exception " + exception_text(code))
