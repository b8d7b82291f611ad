# config_applications: the seed's full example, interface lookup, interface enums.
from ptest import raises

from uedge.config.config_applications import parse_config_applications
from uedge.config.json_reader import ConfigError


def _data(name):
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    with open(here + "/data/" + name) as f:
        return f.read()


def _err(doc):
    return str(raises(ConfigError, parse_config_applications, doc))


def _one(app, itf, options=None):
    a = {"application_display_name": app, "interfaces": [itf]}
    if options is not None:
        a["app_specific_config_options"] = options
    return {"last_edited": "x", "applications": {app: a}}


def test_seed_example_loads():
    ca = parse_config_applications(_data("seed_config_applications.json"))
    assert ca.last_editor == "user"
    assert sorted(ca.applications) == ["CANopen", "CUSTOM_ACME_PROTOCOL", "Modbus_RTU", "Modbus_TCP"]
    rtu = ca.applications["Modbus_RTU"]
    assert rtu["display_name"] == "Modbus RTU" and len(rtu["interfaces"]) == 2 and rtu["options"] == {}
    assert ca.interface_config("Modbus_RTU", "/dev/tty4") == {
        "interface": "/dev/tty4", "baud_rate": 9600, "stop_bits": 1, "parity": "even", "data_bits": 8}
    assert ca.interface_config("Modbus_TCP", "eth0") == {"interface": "eth0"}
    assert ca.interface_config("CANopen", "canA-10")["bitrate"] == 20000
    acme = ca.interface_config("CUSTOM_ACME_PROTOCOL", "/dev/tty3")
    assert acme == {"interface": "/dev/tty3", "param1": "param1value", "param2": "param2value",
                    "custom_option1": 0, "custom_option2": "option2_value"}
    # options alone when the interface is not listed; {} for unknown apps
    assert ca.interface_config("CUSTOM_ACME_PROTOCOL", "/dev/ttyX") == {
        "custom_option1": 0, "custom_option2": "option2_value"}
    assert ca.interface_config("Nope", "x") == {}


def test_interface_entry_overrides_options():
    ca = parse_config_applications(_one("X", {"interface": "a", "k": 2}, {"k": 1, "j": 3}))
    assert ca.interface_config("X", "a") == {"interface": "a", "k": 2, "j": 3}


def test_empty_and_missing():
    assert parse_config_applications('{"last_edited": "x"}').applications == {}
    ca = parse_config_applications({"applications": {"A": {}}})
    assert ca.applications["A"]["interfaces"] == [] and ca.interface_config("A", None) == {}


def test_enum_errors():
    m = _err(_one("Modbus_RTU", {"interface": "/dev/tty0", "baud_rate": 15200}))
    assert m == ("application Modbus_RTU: interfaces[0].baud_rate must be one of 300, 600, 1200, 2400, "
                 "4800, 9600, 19200, 38400, 57600, 115200, got 15200"), m
    m = _err(_one("Modbus_RTU", {"interface": "/dev/tty0", "parity": "mark"}))
    assert m == 'application Modbus_RTU: interfaces[0].parity must be one of "even", "odd", "none", got "mark"'
    m = _err(_one("Modbus_RTU", {"interface": "/dev/tty0", "stop_bits": True}))
    assert m == "application Modbus_RTU: interfaces[0].stop_bits must be one of 1, 0, 2, got true"
    m = _err(_one("Modbus_RTU", {"interface": "/dev/tty0", "data_bits": 9}))
    assert m == "application Modbus_RTU: interfaces[0].data_bits must be one of 8, 7, got 9"
    m = _err(_one("CANopen", {"interface": "can0", "bitrate": 100000}))
    assert m == ("application CANopen: interfaces[0].bitrate must be one of 10000, 20000, 50000, "
                 "125000, 250000, 500000, 800000, 1000000, got 100000")
    # custom applications carry any parameters
    parse_config_applications(_one("ACME", {"interface": "x", "baud_rate": 15200}))


def test_the_seed_modbus_rtu_example_typo_is_rejected():
    # The seed's Modbus RTU example lists "baud_rate": 15200, not in its own enum.
    text = _data("seed_config_applications.json").replace('"baud_rate": 9600', '"baud_rate": 15200')
    m = _err(text)
    assert m.startswith("application Modbus_RTU: interfaces[1].baud_rate must be one of"), m


def test_structure_errors():
    assert _err([]) == "config_applications must be a JSON object, got array"
    assert _err({"applications": []}) == "applications must be an object, got array"
    assert _err({"applications": {"A": 1}}) == "application A: must be an object, got number"
    assert _err({"applications": {"A": {"interfaces": {}}}}) == "application A: interfaces must be an array, got object"
    assert _err({"applications": {"A": {"interfaces": [1]}}}) == "application A: interfaces[0] must be an object, got number"
    assert _err({"applications": {"A": {"interfaces": [{"interface": 1}]}}}) == \
        "application A: interfaces[0].interface must be a string, got number"
    assert _err({"applications": {"A": {"interfaces": [{"interface": "a"}, {"interface": "a"}]}}}) == \
        'application A: interfaces[1].interface duplicates "a"'
    assert _err({"applications": {"A": {"app_specific_config_options": 1}}}) == \
        "application A: app_specific_config_options must be an object, got number"
    assert _err('{"applications": {"A": {}, "A": {}}}') == 'duplicate key "A" in applications at line 1 column 28 (char 27)'
