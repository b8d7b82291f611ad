"""The $resource.batch message of the Device MQTT API: historical values,
[{"timestamp": <us>, "values": {alias: value_str}}, ...] (MuranoMQTT.record)."""

from uedge.compat import MICROPYTHON, json
from uedge.transport.link import MuranoError


def batch_payload(entries, buf=None):
    """[(ts_us, {alias: value_str}), ...] -> the $resource.batch JSON array.

    A str (json.dumps), but for a batch of several entries on MicroPython: a
    memoryview of exactly the message's length, into buf when it is large
    enough (else into a new bytearray). json.dumps would grow its buffer by
    copies, needing contiguous blocks of up to twice a replay batch in a
    fragmented board heap; here each value is escaped twice instead (once to
    count, once to copy), so the batch is held once, plus one value at a time."""
    if not MICROPYTHON or len(entries) < 2:
        out = []
        for ts_us, values in entries:
            if not isinstance(values, dict):
                raise MuranoError("record entry values must be a dict of alias -> string")
            out.append({"timestamp": int(ts_us), "values": values})
        return json.dumps(out)
    n = _batch_into(entries, None)
    if buf is not None and len(buf) >= n:
        out = memoryview(buf)[:n]
    else:
        out = memoryview(bytearray(n))
    _batch_into(entries, out)
    return out


def _batch_into(entries, out):
    """Write the batch JSON into out (a memoryview of exactly its size) and
    return its length in bytes; out None: only count."""
    dumps = json.dumps
    i = 1  # after the [
    for ts_us, values in entries:
        if not isinstance(values, dict):
            raise MuranoError("record entry values must be a dict of alias -> string")
        head = '%s{"timestamp": %d, "values": {' % ("" if i == 1 else ", ", int(ts_us))
        i = _put(out, i, head)
        sep = False
        for k in values:
            if sep:
                i = _put(out, i, ", ")
            i = _put(out, i, dumps(k))
            i = _put(out, i, ": ")
            i = _put(out, i, dumps(values[k]))
            sep = True
        i = _put(out, i, "}}")
    if out is not None:
        out[0] = 0x5B  # [
        out[i] = 0x5D  # ]
    return i + 1


def _put(out, i, piece):
    b = memoryview(piece)  # a str's UTF-8 bytes, without a copy (MicroPython)
    n = len(b)
    if out is not None:
        out[i : i + n] = b
    return i + n
