"""MQTT 3.1.1 client with umqtt.simple's interface, plus non-blocking polling.

One class, direct socket I/O. What it adds over umqtt.simple:
- poll(): processes whatever is readable and returns at once (socket timeout 0),
  sends keepalive PINGREQs and re-sends unacknowledged QoS 1 publishes (DUP).
- publish(qos=1) does not wait for PUBACK: it returns the packet id and
  on_puback(pid) fires when the broker acknowledges it.
- TLS with CA verification, SNI and client certificates on CPython and MicroPython.
- One receive buffer, small until a large packet arrives, never more than
  max_packet, and memoryview framing (mqtt_receive). A larger PUBLISH is read
  and thrown away (acked if QoS 1), reported through on_oversize(topic, size);
  any other packet larger than max_packet is a protocol error.

Packets are built and parsed in mqtt_packets (a session's setup in mqtt_session,
loaded by connect() and subscribe()), sockets are opened in net.
"""

import select

from uedge.compat import MICROPYTHON, Clock, release
from uedge.transport.mqtt_packets import (
    CONNACK,
    DISCONNECT,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    UNSUBACK,
    MQTTException,
    _b,
    parse_publish,
    parse_suback,
    publish_header,
)
from uedge.transport.mqtt_inflight import InFlight
from uedge.transport.mqtt_receive import Receiver
from uedge.transport.net import (
    close_socket,
    nonblocking_io,
    open_connection,
    send_all,
    tick,
)


class MQTTClient(InFlight, Receiver):
    def __init__(
        self,
        client_id,
        server,
        port=0,
        user=None,
        password=None,
        keepalive=0,
        ssl=False,
        ssl_params={},  # noqa: B006 (umqtt.simple signature; never mutated)
        max_packet=32768,
        max_inflight=16,
        retry_ms=10000,
        timeout_ms=10000,
        clock=None,
    ):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.ssl_params = ssl_params
        self.timeout_ms = timeout_ms
        self.retry_ms = retry_ms
        self.max_packet = max_packet
        self.sock = None
        self.connected = False
        self.cb = None
        self.on_puback = None
        self.on_oversize = None  # f(topic, size): a PUBLISH too large for max_packet was skipped
        self.lw = None
        self._clock = clock or Clock()  # keepalive and retry schedule (injectable)
        self._rt = Clock()  # real time for network timeouts: a fake clock must not hang I/O
        self._pid = 0
        # the receive buffer and the send buffer: taken once the TLS handshake
        # is done (its record buffers need the heap first), the receive buffer
        # by connect(), the send buffer by the first publish (_send_publish)
        self._rx = self._rxv = self._tx = None
        self._rx_len = 0
        self._p_start = 0
        self._p_end = 0
        self._skip = 0  # bytes of an oversized PUBLISH still to throw away
        self._skip_info = None  # (topic, qos, pid, size) of that PUBLISH
        self._pingbuf = bytes((PINGREQ, 0))
        self._ackbuf = bytearray(4)
        self._poller = None
        self._last_tx = 0
        self._last_rx = 0
        self._ping_out = 0  # time the unanswered PINGREQ was sent, 0 if none
        self._suback = {}
        # QoS 1 in-flight slots (parallel lists: no allocation per publish)
        self._n_slots = max_inflight
        self._if_pid = [0] * max_inflight
        self._if_topic = [None] * max_inflight
        self._if_msg = [None] * max_inflight
        self._if_retain = [False] * max_inflight
        self._if_time = [0] * max_inflight
        self._if_first = [0] * max_inflight  # first sent on this connection
        self._inflight = 0
        self._read = None
        self._write_fn = None

    # -- umqtt.simple interface

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw = (topic, msg, retain, qos)

    def connect(self, clean_session=True, timeout_ms=None):
        """Open the connection and wait for CONNACK. Returns the session-present flag."""
        self.close()
        tmo = self.timeout_ms if timeout_ms is None else timeout_ms
        # a reconnect gives its buffers up for the handshake and takes them after
        self._rx = self._rxv = self._tx = None
        self.sock = open_connection(
            self.server, self.port, self.ssl, self.ssl_params, timeout_s=tmo / 1000
        )
        self._setup_io()
        self.rx_buffer()
        self._rx_len = 0
        self._shrink()
        self._skip = 0
        self._ping_out = 0
        try:
            from uedge.transport import mqtt_session  # CONNECT/CONNACK: loaded after the handshake

            present = mqtt_session.connack(self, clean_session, tmo)
        except Exception:
            self.close()
            raise
        finally:
            mqtt_session = None  # noqa: F841
            release("uedge.transport.mqtt_session")
        self.connected = True
        now = self._clock.now_ms()
        self._last_rx = now
        # unacknowledged QoS 1 publishes go out again (at least once)
        for i in range(self._n_slots):
            if self._if_pid[i]:
                self._if_time[i] = now - self.retry_ms
                self._if_first[i] = now
        return present

    def disconnect(self):
        if self.sock is not None and self.connected:
            try:
                self._write(bytes((DISCONNECT, 0)))
            except Exception:
                pass
        self.close()

    def close(self):
        """Drop the socket without DISCONNECT (in-flight QoS 1 messages are kept)."""
        self.sock = close_socket(self.sock)
        # the socket's bound read/write go too: they would keep a closed TLS
        # socket, its context and certificate chain, on the heap until the
        # next connect (about 3 KB live, 4 KB of the footprint workload's heap)
        self._poller = self._read = self._write_fn = None
        self.connected = False
        self._rx_len = 0
        self._skip = 0

    def ping(self):
        self._write(self._pingbuf)
        if not self._ping_out:
            self._ping_out = self._clock.now_ms() or 1

    def publish(self, topic, msg, retain=False, qos=0):
        """Send a PUBLISH. QoS 1 returns the packet id (see on_puback); QoS 0 returns 0."""
        if qos not in (0, 1):
            raise MQTTException("QoS %r not supported (0 or 1)" % (qos,))
        if self.sock is None:
            raise MQTTException("not connected")
        topic = _b(topic)
        msg = _b(msg)
        pid = 0
        if qos:
            slot = self._free_slot()
            if slot < 0:
                raise MQTTException("%d QoS 1 messages unacknowledged; poll() and retry" % self._n_slots)
            pid = self._next_pid()
            self._if_pid[slot] = pid
            self._if_topic[slot] = topic
            self._if_msg[slot] = msg
            self._if_retain[slot] = retain
            self._if_time[slot] = self._if_first[slot] = self._clock.now_ms()
            self._inflight += 1
        self._send_publish(topic, msg, qos, retain, False, pid)
        return pid

    def subscribe(self, topic, qos=0, timeout_ms=None):
        """Subscribe and wait for SUBACK; raises MQTTException when refused."""
        if self.sock is None:
            raise MQTTException("not connected")
        from uedge.transport import mqtt_session  # SUBSCRIBE/SUBACK: loaded for it

        try:
            return mqtt_session.subscribe(self, topic, qos, self.timeout_ms if timeout_ms is None else timeout_ms)
        finally:
            mqtt_session = None  # noqa: F841
            release("uedge.transport.mqtt_session")

    def wait_msg(self, timeout_ms=None):
        """Block until one packet has been processed (or timeout_ms passed)."""
        deadline = None if timeout_ms is None else self._rt.now_ms() + timeout_ms
        while True:
            if self._process():
                return True
            left = -1 if deadline is None else deadline - self._rt.now_ms()
            if deadline is not None and left <= 0:
                return False
            self._wait_readable(left)

    def check_msg(self):
        """Process whatever is readable, without blocking."""
        return self.poll()

    # -- non-blocking extras

    def poll(self, now_ms=None):
        """Handle readable packets, keepalive and QoS 1 retries; never blocks.

        Returns the number of packets processed. Raises MQTTException/OSError
        when the connection is broken (the caller reconnects).
        """
        if self.sock is None:
            raise MQTTException("not connected")
        n = 0
        while n < 32 and self._process():
            n += 1
        now = self._clock.now_ms() if now_ms is None else now_ms
        if self.keepalive:
            ka = self.keepalive * 1000
            if self._ping_out and now - self._ping_out >= ka:
                self.close()
                raise MQTTException("no PINGRESP within keepalive (%d s): connection lost" % self.keepalive)
            # ping when we have been quiet, and also when the server has: a
            # half-open connection (peer gone, our writes still buffered) only
            # shows as silence while we keep sending
            if not self._ping_out and (now - self._last_tx >= ka // 2 or now - self._last_rx >= ka // 2):
                self.ping()
                self._ping_out = now or 1
        if self._inflight:
            for i in range(self._n_slots):
                if self._if_pid[i] and now - self._if_first[i] > 2 * self.retry_ms:
                    self.close()
                    raise MQTTException(
                        "no PUBACK for packet %d within %d ms: connection lost" % (self._if_pid[i], 2 * self.retry_ms)
                    )
            for i in range(self._n_slots):
                if self._if_pid[i] and now - self._if_time[i] >= self.retry_ms:
                    self._if_time[i] = now
                    self._send_publish(
                        self._if_topic[i], self._if_msg[i], 1, self._if_retain[i], True, self._if_pid[i]
                    )
        return n

    def ping_outstanding(self):
        """True while a PINGREQ has not been answered."""
        return bool(self._ping_out)

    def resume_pids(self, old):
        """Go on with packet ids after those of client old (a reconnect)."""
        self._pid = old._pid

    # -- internals

    def _setup_io(self):
        self._read, self._write_fn = nonblocking_io(self.sock)
        self._poller = select.poll()
        self._poller.register(self.sock, select.POLLIN)

    def _send_publish(self, topic, msg, qos, retain, dup, pid):
        mlen = len(msg)
        tx = self._tx
        if tx is None:
            try:
                tx = self._tx = bytearray(512)
            except MemoryError:  # no room yet: this publish builds its header alone
                tx = b""
        if len(topic) + 9 > len(tx):
            hdr = bytearray(len(topic) + 9)
            n = publish_header(hdr, topic, mlen, qos, retain, dup, pid)
            self._write(hdr, n)
            self._write(msg)
            return
        n = publish_header(tx, topic, mlen, qos, retain, dup, pid)
        if n + mlen <= len(tx):
            tx[n : n + mlen] = msg
            self._write(tx, n + mlen)
        elif not MICROPYTHON:
            self._write(bytes(tx[:n]) + msg)  # one TLS record, not two (a gateway can spare the copy)
        else:
            self._write(tx, n)
            self._write(msg)

    def _write(self, data, length=-1):
        """Send data[:length] (all of it by default), waiting up to timeout_ms for room."""
        if self.sock is None:
            raise MQTTException("not connected")
        try:
            send_all(self.sock, self._write_fn, data, length, self._rt, self.timeout_ms, MQTTException)
        except Exception:
            self.close()
            raise
        self._last_tx = self._clock.now_ms()

    def _wait_readable(self, ms):
        if self._poller is not None:
            self._poller.poll(max(0, min(ms, 500)) if ms >= 0 else 500)
        tick()  # a board's watchdog is fed while waiting (see net.set_tick)

    def _process(self):
        """Handle one complete packet if there is one. -> True if handled."""
        hdr = self._next_packet()
        if hdr < 0:
            return False
        start = self._p_start
        end = self._p_end
        ptype = hdr & 0xF0
        try:
            if ptype == PUBLISH:
                topic, msg, qos, pid, _dup, _ret = parse_publish(hdr & 0x0F, self._rxv[start:end])
                if qos == 1:
                    self._send_ack(PUBACK, pid)
                elif qos == 2:
                    raise MQTTException("QoS 2 PUBLISH from server not supported")
                self._consume(end)
                end = 0
                if self.cb:
                    self.cb(topic, msg)
            elif ptype == PUBACK:
                if end - start != 2:
                    raise MQTTException("PUBACK with length %d" % (end - start))
                pid = (self._rx[start] << 8) | self._rx[start + 1]
                self._consume(end)
                end = 0
                self._acked(pid)
            elif ptype == PINGRESP:
                self._ping_out = 0
            elif ptype == SUBACK:
                pid, codes = parse_suback(self._rxv[start:end])
                self._suback[pid] = codes
            elif ptype == UNSUBACK:
                pass
            elif ptype == CONNACK:
                raise MQTTException("unexpected CONNACK while connected")
            else:
                raise MQTTException("unexpected packet type 0x%02x from server" % hdr)
        except MQTTException:
            self.close()
            raise
        if end:
            self._consume(end)
        return True

    def _send_ack(self, ptype, pid):
        b = self._ackbuf
        b[0] = ptype
        b[1] = 2
        b[2] = pid >> 8
        b[3] = pid & 0xFF
        self._write(b)
