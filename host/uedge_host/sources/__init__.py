"""Sources a Linux gateway can run, registered under their application names.

Importing this package registers every host source lazily: the name maps to a
small stand-in that imports the driver module (pymodbus, python-can, ...)
the first time a channel of that application is checked or opened, so a
gateway that only runs simulated or on-board channels never loads them.
register_all() loads and registers the real classes now and returns the
names whose drivers are installed.

To add your own application, see custom_example.py and docs/fieldbus.md:
register("MY_PROTOCOL", MySourceClass).
"""

import sys

from uedge.sources import SourceError, register

if sys.flags.no_site:
    # `uedge go` runs without site (python -S, see uedge_host.cli.exec_without_site):
    # the drivers (pymodbus, python-can, ...) live in the site directories, which
    # are added now, .pth files and all, as a normal start would have
    import site

    site.main()

# application name -> (module, class)
HOST_SOURCES = (
    ("Modbus_TCP", "uedge_host.sources.modbus", "ModbusTCPSource"),
    ("Modbus_RTU", "uedge_host.sources.modbus", "ModbusRTUHostSource"),
    ("CANopen", "uedge_host.sources.canopen_source", "CANopenSource"),
    ("CUSTOM_ACME_PROTOCOL", "uedge_host.sources.custom_example", "AcmeSource"),
)


def _load(module, name):
    mod = __import__(module, None, None, [name])
    return getattr(mod, name)


class LazySource:
    """Registry entry that imports its source class on first use."""

    def __init__(self, application, module, name):
        self.application = application
        self.module = module
        self.name = name
        self.cls = None

    def load(self):
        if self.cls is None:
            try:
                self.cls = _load(self.module, self.name)
            except ImportError as e:
                raise SourceError("%s is not available on this gateway (%s)"
                                  % (self.application, e)) from None
        return self.cls

    def __call__(self, application, interface, app_config):
        return self.load()(application, interface, app_config)

    def check_channel(self, channel_id, app_specific_config):
        try:
            cls = self.load()
        except SourceError:
            return None  # accept the config; the channels report the missing driver
        return cls.check_channel(channel_id, app_specific_config)


def register_lazy():
    for app, module, name in HOST_SOURCES:
        register(app, LazySource(app, module, name))


def register_all():
    """Load and register every host source whose driver is installed; return their names."""
    names = []
    for app, module, name in HOST_SOURCES:
        try:
            cls = _load(module, name)
        except ImportError:
            continue
        register(app, cls)
        names.append(app)
    return names


register_lazy()
