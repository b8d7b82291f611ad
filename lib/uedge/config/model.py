"""What a parsed config_io is (ConfigIO, ChannelConfig) and ConfigError, apart
from the validators that build them (config_io, config_applications, fields,
json_reader), which uedge.config.load unloads between documents on a board.
The classes here stay, so a ConfigIO and `except ConfigError` mean the same
class whenever the validators load again.
"""


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
