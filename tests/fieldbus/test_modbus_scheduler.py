"""The fieldbus sources behind the real scheduler: config_io + config_applications
in, reports out, control writes through data_out's path (actuate)."""

import time

import pytest

from fieldbus_peers import config_io, tcp_server
from pymodbus.client import ModbusTcpClient
from uedge.compat import Clock
from uedge.config.json_reader import ConfigError
from uedge.pipeline.scheduler import Scheduler
from uedge_host.sources import register_all

DATA = {"1": {"hr": [10, 20, 30, 0], "co": [1, 0]}}


def test_scheduler_reads_and_actuates_modbus_tcp():
    register_all()
    with tcp_server(DATA) as srv:
        chans = {
            "001": {"ip_address": "127.0.0.1", "port": srv.tcp_port, "register_range": "HOLDING_REGISTER",
                    "register": 2},
            "002": {"ip_address": "127.0.0.1", "port": str(srv.tcp_port), "register_range": "HOLDING_COIL",
                    "register": "0001"},
            "003": {"ip_address": "127.0.0.1", "port": srv.tcp_port, "register_range": "HOLDING_REGISTER",
                    "register": 4},
            "bad": {"ip_address": "127.0.0.1", "port": srv.tcp_port, "register_range": "HOLDING_REGISTER",
                    "register": 0},
        }
        bad = config_io(chans, "Modbus_TCP", "eth0")
        del chans["bad"]
        cfg = config_io(chans, "Modbus_TCP", "eth0")
        apps = {"last_edited": "2026-01-01T00:00:00+00:00",
                "applications": {"Modbus_TCP": {"application_display_name": "Modbus TCP",
                                                "interfaces": [{"interface": "eth0"}]}}}
        clock = Clock()
        s = Scheduler(clock)
        try:
            # the source's check_channel rejects a bad register with the key named
            with pytest.raises(ConfigError) as e:
                s.apply(bad, apps)
            assert "channel bad: app_specific_config.register must be 1..65536, got 0" in str(e.value)
            s.apply(cfg, apps)
            deadline = time.monotonic() + 10
            rep = None
            while time.monotonic() < deadline:
                rep = s.poll(clock.now_ms())
                if rep is not None and rep.values:
                    break
                time.sleep(0.01)
            assert rep is not None
            assert rep.values["001"] == 20 and rep.values["003"] == 0
            assert rep.values["002"] in (1, True)
            assert s.actuate("003", 4321) is None
            c = ModbusTcpClient("127.0.0.1", port=srv.tcp_port)
            assert c.connect()
            assert c.read_holding_registers(3, count=1, device_id=1).registers == [4321]
            c.close()
        finally:
            s.close()
