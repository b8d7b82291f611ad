"""A custom source, step by step: "CUSTOM_ACME_PROTOCOL" from the ExoSense seed.

How an application name becomes running code:

1. config_applications lists the application and its interfaces, e.g.
     "CUSTOM_ACME_PROTOCOL": {"interfaces": [{"interface": "/dev/tty3",
                                              "param1": "param1value"}],
                              "app_specific_config_options": {"custom_option1": 0}}
2. A config_io channel names it:
     "protocol_config": {"application": "CUSTOM_ACME_PROTOCOL",
                         "interface": "/dev/tty3",
                         "app_specific_config": {"sensor": "T1"}}
3. register("CUSTOM_ACME_PROTOCOL", AcmeSource) (uedge_host.sources.register_all
   does it for this example) maps the name to the class.
4. The scheduler builds one AcmeSource per (application, interface, app_config),
   where app_config is that interface's entry merged over
   app_specific_config_options, calls check_channel() for every channel when a
   config_io arrives (a message it returns is the channel's error), open()
   once, read_many()/read() every sample, write() for control channels and
   close() when the configuration changes or the edge stops.

The "Acme" device itself is a line protocol on a serial port:
    "READ T1\\n"        -> "T1=21.5\\n"      or "ERR unknown sensor\\n"
    "SET R1 1\\n"       -> "OK\\n"
Keys used here: app_specific_config.sensor (required), .scale (optional
multiplier); interface entry baud_rate (default 9600), timeout_ms (default
300). Unknown keys (param1, custom_option1, ...) are simply available in
self.app_config for the source to use.
"""

import serial
from uedge.sources import Source, SourceError


class AcmeSource(Source):
    writable = True

    @classmethod
    def check_channel(cls, channel_id, app_specific_config):
        # Validate once, when config_io arrives; name the key in the message.
        sensor = (app_specific_config or {}).get("sensor")
        if not isinstance(sensor, str) or not sensor or " " in sensor:
            return "app_specific_config.sensor must be a sensor name without spaces, got %r" % (sensor,)
        scale = app_specific_config.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            return "app_specific_config.scale must be a number, got %r" % (scale,)
        return None

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        self.baud = int(self.app_config.get("baud_rate", 9600))
        self.timeout = int(self.app_config.get("timeout_ms", 300)) / 1000.0
        self.port = None

    def open(self):
        try:
            self.port = serial.Serial(self.interface, self.baud, timeout=self.timeout)
        except (serial.SerialException, OSError) as e:
            # Not fatal: read() retries, the channels report the reason.
            self.port = None
            self.open_error = str(e)

    def _ask(self, line):
        if self.port is None:
            self.open()
            if self.port is None:
                raise SourceError("cannot open %s: %s" % (self.interface, self.open_error))
        try:
            self.port.reset_input_buffer()
            self.port.write(line.encode() + b"\n")
            answer = self.port.readline().decode("ascii", "replace").strip()
        except (serial.SerialException, OSError) as e:
            self.close()  # reopened on the next read
            raise SourceError("%s: %s" % (self.interface, e)) from None
        if not answer:
            raise SourceError("no answer from %s" % self.interface)
        if answer.startswith("ERR"):
            raise SourceError("device error: %s" % answer[3:].strip())
        return answer

    def read(self, channel):
        # Cache parsed per-channel settings in channel.source_state.
        st = channel.source_state
        if st is None:
            asc = channel.app_specific_config
            st = channel.source_state = (asc["sensor"], asc.get("scale", 1))
        sensor, scale = st
        answer = self._ask("READ " + sensor)
        name, _, value = answer.partition("=")
        if name != sensor:
            raise SourceError("unexpected answer %r" % answer)
        try:
            return float(value) * scale
        except ValueError:
            raise SourceError("not a number: %r" % value) from None

    def write(self, channel, value):
        if self._ask("SET %s %s" % (channel.app_specific_config["sensor"], value)) != "OK":
            raise SourceError("device refused %r" % (value,))

    def close(self):
        if self.port is not None:
            try:
                self.port.close()
            finally:
                self.port = None
