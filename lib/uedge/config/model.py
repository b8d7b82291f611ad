"""What a parsed config_io is (ConfigIO, ChannelConfig) and ConfigError, apart
from the validators that build them (config_io, config_applications, fields,
json_reader), which uedge.config.load unloads between documents on a board.
The classes here stay, so a ConfigIO and `except ConfigError` mean the same
class whenever the validators load again.
"""


class ConfigError(ValueError):
    pass


_NO_DEFAULT = object()

# Every field a ChannelConfig holds (what same() compares).
FIELDS = (
    "display_name", "description", "data_type", "data_unit", "primitive_type", "precision", "locked",
    "control", "device_diagnostic", "min", "max", "timeout", "report_on_change",
    "report_on_change_tolerance", "down_sample", "application", "interface", "input_raw_min",
    "input_raw_max", "input_raw_unit", "multiplier", "offset", "control_min", "control_max",
    "control_enum", "sample_rate", "report_rate", "app_specific_config",
)


class ChannelConfig:
    """One validated channel of config_io, with defaults filled in.

    The defaults are class attributes and an instance stores only the values
    that differ from them: 16 channels take noticeably less RAM on a board.
    The channel's document object (raw) is kept only for a locked channel,
    which a remote config_io must leave as it is (uedge.sync.config_sync);
    two configs of a channel are compared field by field (same()).
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
    raw = None

    def __init__(self, cid):
        self.id = cid

    def same(self, other):
        """True when other configures the channel exactly as this does."""
        if self.id != other.id:
            return False
        for f in FIELDS:
            if getattr(self, f, None) != getattr(other, f, None):
                return False
        return True

    def _set(self, name, v):
        d = getattr(ChannelConfig, name, _NO_DEFAULT)
        if v is not d and (type(v) is not type(d) or v != d):
            setattr(self, name, v)

    def __repr__(self):
        return "<ChannelConfig %s %s>" % (self.id, self.data_type)


class ConfigIO:
    def __init__(self):
        self.channels = {}
        self.order = []  # channel ids in document order (MicroPython dicts are unordered)
        self.last_edited = None
        self.last_editor = None
        self.locked = False
        self.meta = None

    def same(self, other):
        """True when other is the same configuration (document fields and
        every channel), whatever its text looks like."""
        if (self.last_edited != other.last_edited or self.last_editor != other.last_editor
                or self.locked != other.locked or self.meta != other.meta
                or len(self.order) != len(other.order)):
            return False
        for cid in self.order:
            o = other.channels.get(cid)
            if o is None or not self.channels[cid].same(o):
                return False
        return True

    def __iter__(self):
        for cid in self.order:
            yield self.channels[cid]
