"""config_applications: parsing and validation (the interfaces sources open).

Imported only where one is parsed: a board without one never loads it.
"""

from uedge.config.fields import ConfigError, Fields, is_number, quoted, type_name
from uedge.config.json_reader import loads

# Enumerations the seed gives for standard application interfaces.
MODBUS_RTU_ENUMS = (
    ("baud_rate", (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)),
    ("stop_bits", (1, 0, 2)),
    ("parity", ("even", "odd", "none")),
    ("data_bits", (8, 7)),
)
CANOPEN_ENUMS = (("bitrate", (10000, 20000, 50000, 125000, 250000, 500000, 800000, 1000000)),)
INTERFACE_ENUMS = {"Modbus_RTU": MODBUS_RTU_ENUMS, "CANopen": CANOPEN_ENUMS}



class ConfigApplications:
    def __init__(self, raw):
        self.raw = raw
        self.applications = {}
        self.last_edited = None
        self.last_editor = None

    def interface_config(self, application, interface):
        """That interface's entry merged over the app's options; {} when none."""
        app = self.applications.get(application)
        if app is None:
            return {}
        out = {}
        for k in app["options"]:
            out[k] = app["options"][k]
        for itf in app["interfaces"]:
            if itf.get("interface") == interface:
                for k in itf:
                    out[k] = itf[k]
                break
        return out


def parse_config_applications(obj_or_text):
    doc = obj_or_text
    if isinstance(doc, (str, bytes, bytearray)):
        doc = loads(doc)
    if not isinstance(doc, dict):
        raise ConfigError("config_applications must be a JSON object, got %s" % type_name(doc))
    c = Fields("")
    ca = ConfigApplications(doc)
    le = doc.get("last_edited")
    if le is not None and not isinstance(le, str) and not is_number(le):
        c.fail("last_edited", "must be a string, got %s" % type_name(le))
    ca.last_edited = le
    ca.last_editor = c.string(doc, "last_editor")
    apps = c.obj(doc, "applications")
    if apps is None:
        return ca
    for name in apps:
        a = apps[name]
        ac = Fields("application %s: " % name)
        if not isinstance(a, dict):
            raise ConfigError("application %s: must be an object, got %s" % (name, type_name(a)))
        dn = ac.string(a, "application_display_name")
        if dn is None:
            dn = ac.string(a, "display_name")
        opts = ac.obj(a, "app_specific_config_options") or {}
        itfs = a.get("interfaces")
        if itfs is None:
            itfs = []
        if not isinstance(itfs, list):
            ac.fail("interfaces", "must be an array, got %s" % type_name(itfs))
        enums = INTERFACE_ENUMS.get(name, ())
        seen = []
        for k in range(len(itfs)):
            itf = itfs[k]
            f = "interfaces[%d]" % k
            if not isinstance(itf, dict):
                ac.fail(f, "must be an object, got %s" % type_name(itf))
            name_itf = ac.string(itf, "interface", f + ".interface")
            if name_itf is not None:
                if name_itf in seen:
                    ac.fail(f + ".interface", "duplicates %s" % quoted(name_itf))
                seen.append(name_itf)
            for key, allowed in enums:
                if key in itf:
                    v = itf[key]
                    ok = False
                    for a_ in allowed:
                        if v == a_ and (v is not True and v is not False):
                            ok = True
                            break
                    if not ok:
                        ac.fail(
                            "%s.%s" % (f, key),
                            "must be one of %s, got %s" % (", ".join([quoted(x) for x in allowed]), quoted(v)),
                        )
        ca.applications[name] = {"display_name": dn, "interfaces": itfs, "options": opts}
    return ca
