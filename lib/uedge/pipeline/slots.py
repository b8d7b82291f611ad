"""Source slots of the scheduler: one opened source per (application, interface, config).

The source registry (uedge.sources) is consulted here: opening a source for a
slot, and checking a channel's app_specific_config against its source.
"""

from uedge.sources import SourceError, lookup


def default_open_source(application, interface, app_config):
    factory = lookup(application)
    if factory is None:
        raise SourceError("unknown application %s" % application)
    return factory(application, interface, app_config)


def registry_check(application, channel_id, app_specific_config):
    """check_channel for parse_config_io backed by the source registry."""
    factory = lookup(application)
    if factory is None or not hasattr(factory, "check_channel"):
        return None
    try:
        return factory.check_channel(channel_id, app_specific_config)
    except Exception as e:
        return "app_specific_config rejected: %s" % e


class Virtual:
    """Source for channels without an application: holds actuated states."""

    writable = True
    application = None
    interface = None

    def __init__(self):
        self.states = {}

    def open(self):
        pass

    def read_many(self, channels, values, errors):
        st = self.states
        for cfg in channels:
            if cfg.id in st:
                values[cfg.id] = st[cfg.id]

    def write(self, cfg, value):
        if not cfg.control:
            raise SourceError("not a control channel")
        self.states[cfg.id] = value

    def close(self):
        self.states = {}


class Slot:
    """One (application, interface, app_config) and the channels it serves."""

    def __init__(self, application, interface, app_config):
        self.application = application
        self.interface = interface
        self.app_config = app_config
        self.source = None
        self.error = None
        self.retry_at = 0
        self.backoff = 0
        self.channels = []
        self.due = []
        self.vals = {}
        self.errs = {}

    def same(self, application, interface, app_config):
        return (
            self.application == application
            and self.interface == interface
            and self.app_config == app_config
        )

    def label(self):
        if self.interface:
            return "%s %s" % (self.application, self.interface)
        return str(self.application)

    def close(self):
        src = self.source
        self.source = None
        if src is not None:
            try:
                src.close()
            except Exception:
                pass


def error_text(e):
    s = str(e)
    if isinstance(e, SourceError):
        return s
    return "%s: %s" % (type(e).__name__, s) if s else type(e).__name__
