"""The source contract: how the edge loop reads and writes channel values.

A source serves every channel whose protocol_config names its application
(and, for interface-bound applications, the same interface). The scheduler
groups due channels by source and calls read_many once per source per tick,
so a fieldbus source can coalesce requests.

Applications are looked up by name in a registry: the firmware and the host
register what their platform can run (see register()).
"""


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
            try:
                values[ch.id] = self.read(ch)
            except SourceError as e:
                errors[ch.id] = str(e)
            except Exception as e:  # a buggy source must not stop the loop
                errors[ch.id] = "%s: %s" % (type(e).__name__, e)

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
