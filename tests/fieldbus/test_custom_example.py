"""The documented custom source: an application name in config_io maps to a
class, config_applications gives its interface settings, a real serial peer."""

import threading

import serial
from fieldbus_peers import config_io
from peers.socat import socat_pair
from uedge.config.config_applications import parse_config_applications
from uedge.config.config_io import parse_config_io
from uedge.sources import lookup
from uedge_host.sources import register_all
from uedge_host.sources.custom_example import AcmeSource

APPS = {
    "last_edited": "2026-01-01T00:00:00+00:00",
    "applications": {
        "CUSTOM_ACME_PROTOCOL": {
            "application_display_name": "Acme Custom Protocol",
            "interfaces": [{"interface": "IFACE", "param1": "param1value", "baud_rate": 9600}],
            "app_specific_config_options": {"custom_option1": 0, "custom_option2": "option2_value"},
        }
    },
}


def acme_device(path, stop, ready):
    state = {"T1": "21.5", "P2": "1.25", "R1": "0"}
    port = serial.Serial(path, 9600, timeout=0.05)
    ready.set()
    while not stop.is_set():
        line = port.readline().decode().strip()
        if not line:
            continue
        cmd, _, rest = line.partition(" ")
        if cmd == "READ" and rest in state:
            port.write(("%s=%s\n" % (rest, state[rest])).encode())
        elif cmd == "SET":
            name, _, value = rest.partition(" ")
            state[name] = value
            port.write(b"OK\n")
        else:
            port.write(b"ERR unknown sensor\n")
    port.close()


def test_custom_source_from_config_to_values():
    assert "CUSTOM_ACME_PROTOCOL" in register_all()
    cls = lookup("CUSTOM_ACME_PROTOCOL")
    assert cls is AcmeSource
    with socat_pair() as pair:
        stop = threading.Event()
        ready = threading.Event()
        t = threading.Thread(target=acme_device, args=(pair.b, stop, ready), daemon=True)
        t.start()
        assert ready.wait(5)
        try:
            apps = parse_config_applications(
                __import__("json").dumps(APPS).replace("IFACE", pair.a))
            app_config = apps.interface_config("CUSTOM_ACME_PROTOCOL", pair.a)
            assert app_config["param1"] == "param1value" and app_config["custom_option1"] == 0
            cio = parse_config_io(config_io({
                "t": {"sensor": "T1"}, "p": {"sensor": "P2", "scale": 100}, "x": {"sensor": "X9"},
                "r": {"sensor": "R1"}}, "CUSTOM_ACME_PROTOCOL", pair.a))
            src = cls("CUSTOM_ACME_PROTOCOL", pair.a, app_config)
            src.open()
            values, errors = {}, {}
            src.read_many(list(cio.channels.values()), values, errors)
            assert values == {"t": 21.5, "p": 125.0, "r": 0.0}
            assert errors == {"x": "device error: unknown sensor"}
            src.write(cio.channels["r"], 1)
            assert src.read(cio.channels["r"]) == 1.0
            src.close()
        finally:
            stop.set()
            t.join(2)


def test_custom_source_validation_names_the_key():
    assert AcmeSource.check_channel("1", {"sensor": "T1"}) is None
    assert "app_specific_config.sensor" in AcmeSource.check_channel("1", {})
    assert "app_specific_config.scale" in AcmeSource.check_channel("1", {"sensor": "T", "scale": "x"})


def test_importing_host_sources_registers_lazily():
    import sys

    import uedge_host.sources as hs
    from uedge.sources import register

    hs.register_lazy()
    entry = lookup("CANopen")
    assert isinstance(entry, hs.LazySource)
    # config validation goes through to the real class
    assert "evaluation_mode" in entry.check_channel("1", {"node_id": "0x01", "msg_index": "0x180"})
    # a missing driver: config accepted, opening says why
    ghost = hs.LazySource("GHOST", "uedge_host.sources.no_such_driver", "X")
    assert ghost.check_channel("1", {}) is None
    try:
        ghost("GHOST", "x", {})
        raise AssertionError("should fail")
    except Exception as e:
        assert "GHOST is not available on this gateway" in str(e)
    assert "uedge_host.sources.no_such_driver" not in sys.modules
    register_all()
    register("CANopen", lookup("CANopen"))
