"""The source contract: how the edge loop reads and writes channel values.

A source serves every channel whose protocol_config names its application
(and, for interface-bound applications, the same interface). The scheduler
groups due channels by source and calls read_many once per source per tick,
so a fieldbus source can coalesce requests.

Applications are looked up by name in a registry: the firmware and the host
register what their platform can run (see register()). The scheduler opens
one source per slot (Slot below); registry_check checks a channel's
app_specific_config against its source.
"""


def read_into(src, ch, values, errors):
    """src.read(ch) into values[ch.id], or its error message into errors[ch.id]."""
    try:
        values[ch.id] = src.read(ch)
    except SourceError as e:
        errors[ch.id] = str(e)
    except Exception as e:  # a buggy source must not stop the loop
        errors[ch.id] = "%s: %s" % (type(e).__name__, e)


class SourceError(Exception):
    """A read or write failed; the message becomes the channel's __error entry."""


class Source:
    # Set by subclasses that can actuate (control channels).
    writable = False

    def __init__(self, application, interface, app_config):
        # app_config: the matching config_applications interface entry merged
        # with the application's app_specific_config_options ({} when none).
        self.application = application
        self.interface = interface
        self.app_config = app_config or {}

    @classmethod
    def check_channel(cls, channel_id, app_specific_config):
        """Validate a channel's app_specific_config for this source.

        Return None when it is fine, or a message naming the key, e.g.
        'app_specific_config.register must be 1..9999, got 0'.
        """
        return None

    def open(self):
        pass

    def read(self, channel):
        """Return the raw value of one channel or raise SourceError."""
        raise SourceError("not readable")

    def read_many(self, channels, values, errors):
        """Read several channels; put values[ch.id] or errors[ch.id] (a str)."""
        for ch in channels:
            read_into(self, ch, values, errors)

    def write(self, channel, value):
        """Actuate a control channel; raise SourceError on failure."""
        raise SourceError("application %s cannot write" % self.application)

    def close(self):
        pass


_registry = {}


def register(application, factory):
    """Map an application name (config_io protocol_config.application) to a class."""
    _registry[application] = factory


def lookup(application):
    return _registry.get(application)


def applications():
    return sorted(_registry)


# -- opening sources for the scheduler: one per (application, interface, config)


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


BACKOFF_MIN_MS = 1000  # a source that fails to open or read waits, doubling up to the max
BACKOFF_MAX_MS = 60000
_INF = float("inf")


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
        # the scheduler's: earliest and latest next sample of the channels,
        # due holds every channel's config
        self.lo = 0
        self.hi = _INF
        self.full = False
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

    def bounds(self):
        """Set lo / hi from the channels' next samples (the scheduler's)."""
        lo = hi = None
        for ch in self.channels:
            t = ch.next_sample
            if lo is None or t < lo:
                lo = t
            if hi is None or t > hi:
                hi = t
        self.lo = _INF if lo is None else lo
        self.hi = _INF if hi is None else hi
        self.full = False

    def failed_at(self, now):
        """The source failed: the next open waits, twice as long each time."""
        b = self.backoff * 2 if self.backoff else BACKOFF_MIN_MS
        if b > BACKOFF_MAX_MS:
            b = BACKOFF_MAX_MS
        self.backoff = b
        self.retry_at = now + b

    def ensure_open(self, now, open_source):
        """The open source, opened now (open_source(app, interface, config))
        unless it is backing off -> the source or None (self.error says why)."""
        if self.source is not None:
            return self.source
        if now < self.retry_at:
            return None
        src = None
        try:
            if self.application is None:
                src = Virtual()
            else:
                src = open_source(self.application, self.interface, self.app_config)
            src.now_ms = now
            src.open()
        except Exception as e:
            self.error = "%s open failed: %s" % (self.label(), error_text(e))
            if src is not None:
                try:
                    src.close()
                except Exception:
                    pass
            self.failed_at(now)
            return None
        self.source = src
        self.error = None
        return src

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
