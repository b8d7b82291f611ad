"""The footprint workload's MQTT/TLS transport (tools/bench/mpy_footprint.py, phase "tls")."""


class TlsTransport:
    """The workload's transport over a real MuranoMQTT link (MQTT over TLS to the
    local connector, token auth): every record is published on it, PUBACKs are
    counted, the edge loop sees immediate delivery as with the stand-in.
    Resource writes (the config_io write-up) go over the link too, their
    PUBACKs to the edge loop, which then knows the connector holds its
    config_io."""

    def __init__(self, tls, max_packet, batch_buffer=0):
        from uedge.transport.murano_mqtt import MuranoMQTT

        host, port, dev, cred, ca = tls
        self.link = MuranoMQTT(host, int(port), dev, auth="token", credentials_path=cred, ca=ca,
                               server_hostname="localhost", max_packet=max_packet,
                               batch_buffer=batch_buffer)
        self.acks = 0
        self.writes = []  # msg ids of resource writes, acknowledged to the edge loop
        self.link.on_ack = self._ack
        self.connected = False
        self.on_update = self.on_ack = self.on_state = None
        self.sent = 0
        self.published = 0
        self.nbytes = 0

    def connect(self):
        """Provision and connect: after Edge.start(), as the firmware's loop
        connects only once the edge has started from its config_io cache."""
        self.link.provision()
        self.link.connect()
        if not self.link.connected:
            raise OSError("no MQTT/TLS connection to %s:%s" % (self.link.host, self.link.port))
        self.connected = True

    def offline(self):
        """The connector goes away: the TLS session is closed (its heap given
        back, the TLS reserve taken again). What was not acknowledged yet is
        queued by the edge loop and published again after the reconnect."""
        self.link.close()
        self.connected = False
        self.published = self.acks

    def online(self):
        """The connector is back: a new TLS handshake, in the heap as the
        session and the offline minute left it."""
        self.link.connect()
        if not self.link.connected:
            raise OSError("no MQTT/TLS reconnection to %s:%s" % (self.link.host, self.link.port))
        self.connected = True

    def _ack(self, mid, conflicts=None):
        if mid in self.writes:
            self.writes.remove(mid)
            if self.on_ack is not None:
                self.on_ack(mid)
            return
        self.acks += 1

    def poll(self, now_ms=None):
        self.link.poll()

    def record(self, entries):
        self.sent += len(entries)
        if self.link.record(entries) is not None:
            self.published += 1
        return None

    def write(self, alias, value):
        self.nbytes += len(value)
        mid = self.link.write(alias, value)
        if mid is not None:
            self.writes.append(mid)
        return mid

    def drain(self, ms=15000):
        import time

        t0 = time.ticks_ms()
        while self.acks < self.published and time.ticks_diff(time.ticks_ms(), t0) < ms:
            self.link.poll()
            time.sleep_ms(5)
        return self.acks >= self.published

    def close(self):
        self.link.close()
