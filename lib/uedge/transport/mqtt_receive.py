"""The receive side of the MQTT client: one buffer, memoryview framing.

The buffer holds RX_START bytes while packets are small (PUBACKs, PINGRESP, a
data_out); a larger packet grows it to that packet's size, never beyond
max_packet + 5, and it shrinks back once the packet is handled. So a board
holds a max_update-sized buffer only while such an update is arriving.
A PUBLISH larger than max_packet is read and thrown away in buffer-sized
pieces (acknowledged if QoS 1) and reported through on_oversize(topic, size).
MQTTClient inherits this; it provides the socket (_read), close(), _send_ack()
and the receive buffer fields set up in its constructor.
"""

from uedge.transport.mqtt_packets import PUBLISH
from uedge.transport.net import MQTTException, is_wouldblock


RX_START = 1024


class Receiver:
    def rx_buffer(self):
        """The receive buffer: RX_START bytes at first (see _grow), fewer when
        the heap has no block that large (on a board right after a TLS
        handshake): halved down to 64 bytes, which a CONNACK, a PUBACK or a
        small update fits; a larger packet grows it."""
        if self._rx is None:
            n = min(RX_START, self.max_packet + 5)
            while True:
                try:
                    self._rx = bytearray(n)
                    break
                except MemoryError:
                    if n <= 64:
                        raise
                    n //= 2
            self._rxv = memoryview(self._rx)
        return self._rx

    def receiving(self):
        """True while a packet has arrived only in part (or one is being skipped)."""
        return self._rx_len > 0 or self._skip > 0

    def _grow(self, need):
        """Room for need bytes (at most max_packet + 5), keeping what was read."""
        if need <= len(self._rx):
            return
        nb = bytearray(min(self.max_packet + 5, max(need, 2 * len(self._rx))))
        nb[: self._rx_len] = self._rxv[: self._rx_len]
        self._rxv = None
        self._rx = nb
        self._rxv = memoryview(nb)

    def _shrink(self):
        if len(self._rx) > RX_START and self._rx_len <= RX_START:
            nb = bytearray(RX_START)
            nb[: self._rx_len] = self._rxv[: self._rx_len]
            self._rxv = None
            self._rx = nb
            self._rxv = memoryview(nb)

    def _fill(self):
        """Read what the socket has into the receive buffer. -> bytes read (0 = none)."""
        read = self._read
        if read is None or self._rx_len >= len(self._rx):
            return 0  # closed (by a callback during this poll), or the buffer is full
        buf = self._rxv[self._rx_len :] if self._rx_len else self._rxv
        try:
            n = read(buf)
        except OSError as e:
            if is_wouldblock(e):
                return 0
            self.close()
            raise
        if n is None:
            return 0
        if n == 0:
            self.close()
            raise MQTTException("connection closed by server")
        self._rx_len += n
        self._last_rx = self._clock.now_ms()
        return n

    def _next_packet(self):
        """Frame the next complete packet: its first byte (body at _p_start:_p_end), or -1."""
        while True:
            if self._skip:
                from uedge.transport.mqtt_skip import discard

                if not discard(self):
                    return -1
                continue
            t = self._frame()
            if t >= 0:
                return t
            if t == -2:
                continue  # an oversized PUBLISH: being skipped
            if not self._fill():
                return -1

    def _frame(self):
        n = self._rx_len
        if n < 2:
            return -1
        rx = self._rx
        rem = 0
        shift = 0
        i = 1
        while True:
            if i >= n:
                return -1
            b = rx[i]
            rem |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                break
            shift += 7
            if shift >= 28:
                self.close()
                raise MQTTException("malformed remaining length (more than 4 bytes)")
        if rem > self.max_packet:
            ptype = rx[0]
            if ptype & 0xF0 == PUBLISH:
                from uedge.transport.mqtt_skip import start_skip

                return start_skip(self, i, rem)
            self.close()
            raise MQTTException(
                "incoming packet (type 0x%02x) of %d bytes exceeds max_packet %d" % (ptype, rem, self.max_packet)
            )
        end = i + rem
        if end > n:
            self._grow(end)
            return -1
        self._p_start = i
        self._p_end = end
        return rx[0]

    def _consume(self, end):
        left = self._rx_len - end
        if left:
            self._rxv[:left] = self._rxv[end : self._rx_len]
        self._rx_len = left
        if len(self._rx) > RX_START:
            self._shrink()
