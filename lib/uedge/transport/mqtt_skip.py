"""An incoming PUBLISH larger than max_packet (uedge.transport.mqtt_receive):
its topic read, the rest thrown away in buffer-sized pieces, acknowledged if
QoS 1 and reported through on_oversize. Loaded when one arrives and
released once it has been skipped."""

from uedge.compat import release
from uedge.transport.mqtt_packets import PUBACK
from uedge.transport.net import MQTTException


def discard(rcv):
    """Throw away the next bytes of an oversized PUBLISH. -> False when none were readable."""
    if not rcv._rx_len and not rcv._fill():
        return False
    k = rcv._skip if rcv._skip < rcv._rx_len else rcv._rx_len
    rcv._consume(k)
    rcv._skip -= k
    if not rcv._skip:
        release("uedge.transport.mqtt_skip")  # the skip is over
        topic, qos, pid, size = rcv._skip_info
        rcv._skip_info = None
        if qos == 1:
            rcv._send_ack(PUBACK, pid)  # delivered: the broker must not send it again
        if rcv.on_oversize:
            rcv.on_oversize(topic, size)
    return True


def start_skip(rcv, hdr_len, rem):
    """An incoming PUBLISH of rem bytes exceeds max_packet: read its topic
    (and packet id), then skip the rest without buffering it.
    -> -2 once skipping, -1 while the topic has not arrived yet."""
    rx = rcv._rx
    n = rcv._rx_len
    flags = rx[0]
    qos = (flags >> 1) & 3
    if n < hdr_len + 2:
        return -1
    tlen = (rx[hdr_len] << 8) | rx[hdr_len + 1]
    head = hdr_len + 2 + tlen + (2 if qos else 0)
    if qos == 3 or head > rcv.max_packet + 5 or head > hdr_len + rem:
        rcv.close()
        raise MQTTException("incoming PUBLISH of %d bytes exceeds max_packet %d" % (rem, rcv.max_packet))
    if n < head:
        rcv._grow(head)
        return -1
    t_end = hdr_len + 2 + tlen
    pid = (rx[t_end] << 8) | rx[t_end + 1] if qos else 0
    rcv._skip_info = (bytes(rx[hdr_len + 2 : t_end]), qos, pid, hdr_len + rem - head)  # payload size
    rcv._skip = hdr_len + rem
    return -2
