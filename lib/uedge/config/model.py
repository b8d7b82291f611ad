"""What a parsed config_io is (ConfigIO, ChannelConfig) and ConfigError, apart
from the validators that build them (config_io, config_applications, fields,
json_reader).

A board keeps only this module once a config is applied: parse_io() and
applications_of() load the validators for one document and, on MicroPython,
unload them again, so their bytecode goes back to the heap (.mpy files) while
the steady loop runs. The classes here stay, so a ConfigIO and `except
ConfigError` mean the same class whenever the validators load again.
"""

import sys

_VALIDATORS = ("config_io", "fields", "json_reader")


class ConfigError(ValueError):
    pass


_NO_DEFAULT = object()


class ChannelConfig:
    """One validated channel of config_io, with defaults filled in.

    The defaults are class attributes and an instance stores only the values
    that differ from them: 16 channels take noticeably less RAM on a board.
    """

    description = None
    data_unit = None
    primitive_type = None
    precision = None
    locked = False
    control = False
    device_diagnostic = False
    min = None
    max = None
    timeout = None
    report_on_change = False
    report_on_change_tolerance = 0
    down_sample = "ACT"
    application = None
    interface = None
    input_raw_min = None
    input_raw_max = None
    input_raw_unit = None
    multiplier = None
    offset = None
    control_min = None
    control_max = None
    control_enum = None
    source_state = None

    def __init__(self, cid, raw):
        self.id = cid
        self.raw = raw

    def _set(self, name, v):
        d = getattr(ChannelConfig, name, _NO_DEFAULT)
        if v is not d and (type(v) is not type(d) or v != d):
            setattr(self, name, v)

    def __repr__(self):
        return "<ChannelConfig %s %s>" % (self.id, self.data_type)


class ConfigIO:
    def __init__(self, raw):
        self.raw = raw
        self.channels = {}
        self.order = []  # channel ids in document order (MicroPython dicts are unordered)
        self.last_edited = None
        self.last_editor = None
        self.locked = False
        self.meta = None

    def __iter__(self):
        for cid in self.order:
            yield self.channels[cid]


def parse_io(obj_or_text, check_channel=None):
    """config_io.parse_config_io, then release() (raises ConfigError)."""
    from uedge.config import config_io

    try:
        return config_io.parse_config_io(obj_or_text, check_channel)
    finally:
        config_io = None
        release()


def applications_of(text):
    """Application names a config_io text uses ([] when it cannot be read)."""
    from uedge.config import json_reader

    try:
        doc = json_reader.loads(text)
        chans = doc.get("channels")
    except (ConfigError, AttributeError):
        return []
    finally:
        json_reader = None
        release()
    apps = []
    if isinstance(chans, dict):
        for cid in chans:
            ch = chans[cid]
            pc = ch.get("protocol_config") if isinstance(ch, dict) else None
            app = pc.get("application") if isinstance(pc, dict) else None
            if isinstance(app, str) and app not in apps:
                apps.append(app)
    return apps


def release():
    """Unload the validators on MicroPython, unless config_applications (which
    uses them) is loaded; they load again for the next document."""
    if sys.implementation.name != "micropython" or "uedge.config.config_applications" in sys.modules:
        return
    pkg = sys.modules.get("uedge.config")
    for name in _VALIDATORS:
        sys.modules.pop("uedge.config." + name, None)
        if pkg is not None and name in pkg.__dict__:
            delattr(pkg, name)
