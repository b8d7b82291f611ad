"""Source "CANopen" for Linux gateways: python-can + canopen.

config_applications interface entry (app_config):
  interface  the name the channels use, e.g. "can0" or "canA-10"
  channel    python-can channel (default: interface)
  bitrate    bus bit rate (10000 .. 1000000), passed to python-can
  bustype    python-can interface type (uedge key; default "socketcan";
             "virtual" for tests, "pcan", "kvaser", ...)
  uedge extensions: sdo_timeout_ms (default 500), retry_ms / retry_max_ms
  (per-node backoff after SDO timeouts)

Channel app_specific_config:
  node_id    hex string, e.g. "0x05" (1..127)
  msg_index  hex string naming the message kind by its COB-ID base:
             "0x180" / "0x280" / "0x380" / "0x480" = TPDO1..4 of the node,
             received passively; COB-ID = msg_index + node_id.
             "0x580" = read by SDO upload from the node (COB-IDs 0x600+node
             request / 0x580+node response); needs sdo_index.
             A full COB-ID (e.g. "0x185" with node_id "0x05") is accepted too.
  sdo_index / sdo_subindex   (uedge keys, SDO only) object index, hex string
             e.g. "0x2000", and subindex (default 0)
  offset     first byte to decode (default 0)
  data_length bytes available to the value (default 8); STRING uses all of
             them, numeric modes need at least their size
  evaluation_mode  REAL32, INT8, INT16, UINT16, UINT32, STRING, BOOLEAN
             (+ uedge: UINT8, INT32); CANopen data are little-endian
  max_age_ms (uedge, PDO only) older PDO data is an error (default: no limit)

Control channels write by SDO download (sdo_index required).
"""

import struct
import threading
import time

import can
import canopen
from uedge.modbus import codec
from uedge.sources import Source, SourceError

PDO_BASES = (0x180, 0x280, 0x380, 0x480)
SDO_BASE = 0x580
MODES = {
    "REAL32": ("<f", 4),
    "INT8": ("<b", 1),
    "UINT8": ("<B", 1),
    "INT16": ("<h", 2),
    "UINT16": ("<H", 2),
    "INT32": ("<i", 4),
    "UINT32": ("<I", 4),
    "BOOLEAN": ("<B", 1),
    "STRING": (None, 1),
}


class CanSpec:
    pass


def parse_channel(asc):
    if not isinstance(asc, dict):
        raise ValueError("app_specific_config must be an object")
    s = CanSpec()
    s.node = codec.parse_int(_hex(asc, "node_id"), "node_id", None, 1, 127)
    idx = codec.parse_int(_hex(asc, "msg_index"), "msg_index", None, 0x80, 0x7FF)
    low = idx & 0x7F
    base = idx - low
    if low and low != s.node:
        raise ValueError("app_specific_config.msg_index 0x%X is a COB-ID of node 0x%02X, "
                         "not of node_id 0x%02X" % (idx, low, s.node))
    if base not in PDO_BASES and base != SDO_BASE:
        raise ValueError("app_specific_config.msg_index must be 0x180, 0x280, 0x380, 0x480 (TPDO) "
                         "or 0x580 (SDO), got 0x%X" % idx)
    s.sdo = base == SDO_BASE
    s.cob_id = base + s.node
    s.offset = codec.parse_int(asc, "offset", 0, 0, 8 if not s.sdo else 65535)
    s.length = codec.parse_int(asc, "data_length", 8, 1, 8 if not s.sdo else 65535)
    mode = asc.get("evaluation_mode")
    if not isinstance(mode, str) or mode.strip().upper() not in MODES:
        raise ValueError("app_specific_config.evaluation_mode must be one of REAL32, INT8, INT16, "
                         "UINT16, UINT32, STRING, BOOLEAN, got %r" % (mode,))
    s.mode = mode.strip().upper()
    s.fmt, size = MODES[s.mode]
    if s.mode != "STRING" and s.length < size:
        raise ValueError("app_specific_config.data_length must be at least %d for %s, got %d"
                         % (size, s.mode, s.length))
    if not s.sdo and s.offset + (s.length if s.mode == "STRING" else size) > 8:
        raise ValueError("app_specific_config.offset %d + %d bytes runs past the 8-byte PDO"
                         % (s.offset, size if s.mode != "STRING" else s.length))
    s.size = s.length if s.mode == "STRING" else size
    if s.sdo:
        s.index = codec.parse_int(_hex(asc, "sdo_index"), "sdo_index", None, 0, 0xFFFF)
        s.subindex = codec.parse_int(asc, "sdo_subindex", 0, 0, 255)
    s.max_age_ms = codec.parse_int(asc, "max_age_ms", 0, 0, 86400000)
    return s


def _hex(asc, key):
    """node_id, msg_index and sdo_index are hexadecimal even without 0x."""
    v = asc.get(key)
    if isinstance(v, str) and v.strip() and v.strip()[:2].lower() != "0x":
        return {key: "0x" + v.strip()}
    return {key: v}


def decode(s, data):
    if len(data) < s.offset + (1 if s.mode == "STRING" else s.size):
        raise SourceError("only %d data bytes, need %d from offset %d"
                          % (len(data), s.size, s.offset))
    if s.mode == "STRING":
        raw = bytes(data[s.offset:s.offset + s.length]).split(b"\x00", 1)[0]
        return raw.decode("ascii", "replace")
    v = struct.unpack_from(s.fmt, data, s.offset)[0]
    if s.mode == "BOOLEAN":
        return 1 if v else 0
    if s.mode == "REAL32" and (v != v or v in (float("inf"), float("-inf"))):
        raise SourceError("value is not a finite number")
    return v


def encode(s, value):
    if s.mode == "STRING":
        return str(value).encode()
    if s.mode == "REAL32":
        return struct.pack("<f", float(value))
    if isinstance(value, str):
        value = {"true": 1, "false": 0}.get(value.strip().lower(), value)
    try:
        return struct.pack(s.fmt, int(value))
    except (ValueError, struct.error) as e:
        raise SourceError("value %r does not fit %s: %s" % (value, s.mode, e)) from None


class _Frames(can.Listener):
    """Keeps the last TPDO frame of every node, as it arrives."""

    def __init__(self):
        self.last = {}
        self.lock = threading.Lock()

    def on_message_received(self, msg):
        cid = msg.arbitration_id
        if 0x181 <= cid <= 0x4FF and not msg.is_remote_frame:
            with self.lock:
                self.last[cid] = (bytes(msg.data), time.monotonic())


class CANopenSource(Source):
    writable = True

    @classmethod
    def check_channel(cls, channel_id, app_specific_config):
        try:
            parse_channel(app_specific_config or {})
        except ValueError as e:
            return str(e)
        return None

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        cfg = self.app_config
        self.channel = cfg.get("channel") or interface
        self.bustype = cfg.get("bustype") or cfg.get("can_interface") or "socketcan"
        self.bitrate = codec.parse_int(cfg, "bitrate", 250000, 1000, 1000000)
        self.sdo_timeout = codec.parse_int(cfg, "sdo_timeout_ms", 500, 1, 60000) / 1000.0
        self.retry_s = codec.parse_int(cfg, "retry_ms", 1000, 0, 3600000) / 1000.0
        self.retry_max_s = codec.parse_int(cfg, "retry_max_ms", 30000, 0, 3600000) / 1000.0
        self.network = None
        self.frames = _Frames()
        self.nodes = {}
        self.health = {}  # node -> (failures, retry_at, last_error)

    def open(self):
        if self.network is not None:
            return
        net = canopen.Network()
        try:
            net.connect(interface=self.bustype, channel=self.channel, bitrate=self.bitrate)
        except (OSError, can.CanError, ValueError) as e:
            raise SourceError("cannot open CAN %s (%s): %s" % (self.channel, self.bustype, e)) from None
        net.notifier.add_listener(self.frames)
        self.network = net

    def close(self):
        net = self.network
        self.network = None
        self.nodes.clear()
        if net is not None:
            try:
                net.disconnect()
            except Exception:
                pass

    def _spec(self, ch):
        st = ch.source_state
        if st is None or st[0] is not ch.app_specific_config:
            try:
                st = (ch.app_specific_config, parse_channel(ch.app_specific_config or {}), None)
            except ValueError as e:
                st = (ch.app_specific_config, None, "channel %s: %s" % (ch.id, e))
            ch.source_state = st
        if st[2]:
            raise SourceError(st[2])
        return st[1]

    def _node(self, nid):
        n = self.nodes.get(nid)
        if n is None:
            n = canopen.RemoteNode(nid, canopen.ObjectDictionary())
            n.sdo.RESPONSE_TIMEOUT = self.sdo_timeout
            n.sdo.MAX_RETRIES = 1  # one attempt: the backoff handles retrying
            self.network.add_node(n)
            self.nodes[nid] = n
        return n

    def read(self, channel):
        s = self._spec(channel)
        if self.network is None:
            self.open()
        if not s.sdo:
            with self.frames.lock:
                got = self.frames.last.get(s.cob_id)
            if got is None:
                raise SourceError("no TPDO 0x%03X received from node 0x%02X yet" % (s.cob_id, s.node))
            data, ts = got
            if s.max_age_ms:
                age = (time.monotonic() - ts) * 1000.0
                if age > s.max_age_ms:
                    raise SourceError("TPDO 0x%03X from node 0x%02X is %d ms old"
                                      % (s.cob_id, s.node, age))
            return decode(s, data)
        return decode(s, self._sdo(s, None))

    def _sdo(self, s, data):
        fails, retry_at, last = self.health.get(s.node, (0, 0.0, None))
        now = time.monotonic()
        if fails and now < retry_at:
            raise SourceError("%s (retry in %d ms)" % (last, (retry_at - now) * 1000))
        node = self._node(s.node)
        try:
            if data is None:
                out = node.sdo.upload(s.index, s.subindex)
            else:
                node.sdo.download(s.index, s.subindex, data)
                out = None
        except canopen.SdoAbortedError as e:
            self.health.pop(s.node, None)
            raise SourceError("node 0x%02X object 0x%04X:%d: SDO abort: %s"
                              % (s.node, s.index, s.subindex, e)) from None
        except (canopen.SdoCommunicationError, can.CanError, OSError) as e:
            fails += 1
            delay = min(self.retry_s * (2 ** (fails - 1)), self.retry_max_s)
            msg = "node 0x%02X: no SDO response (%s)" % (s.node, e)
            self.health[s.node] = (fails, now + delay, msg)
            raise SourceError(msg) from None
        self.health.pop(s.node, None)
        return out

    def write(self, channel, value):
        s = self._spec(channel)
        if not s.sdo:
            raise SourceError("channel %s: PDO channels are read-only; give msg_index 0x580 and "
                              "sdo_index to write by SDO" % channel.id)
        if self.network is None:
            self.open()
        self._sdo(s, encode(s, value))
