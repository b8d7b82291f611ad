"""Sources a Linux gateway can run, registered under their application names.

register_all() maps each config_io protocol_config.application name to its
class in uedge.sources' registry. The portable sources (e.g. the board's
on-board I/O) are registered by their own modules; here live the ones that
need CPython libraries (pymodbus, pyserial, python-can, canopen).
"""

from uedge.sources import register


def register_all():
    from uedge_host.sources.canopen_source import CANopenSource
    from uedge_host.sources.custom_example import AcmeSource
    from uedge_host.sources.modbus import ModbusRTUHostSource, ModbusTCPSource

    register("Modbus_TCP", ModbusTCPSource)
    register("Modbus_RTU", ModbusRTUHostSource)
    register("CANopen", CANopenSource)
    register("CUSTOM_ACME_PROTOCOL", AcmeSource)
    return ["Modbus_TCP", "Modbus_RTU", "CANopen", "CUSTOM_ACME_PROTOCOL"]
