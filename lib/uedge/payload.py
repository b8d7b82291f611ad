"""data_in payloads and $resource.batch bodies.

A report is encoded exactly once; the outbox stores the string.
"""

import json

_SEP = (",", ":")


def encode_data_in(values, errors=None):
    """Compact JSON object of channel values, with "__error" when errors."""
    if not errors:
        return json.dumps(values, separators=_SEP)
    # Borrow the caller's dict for one dumps() instead of copying it.
    had = "__error" in values
    old = values.get("__error")
    values["__error"] = errors
    try:
        return json.dumps(values, separators=_SEP)
    finally:
        if had:
            values["__error"] = old
        else:
            del values["__error"]


def encode_batch(entries, alias="data_in"):
    """Body for $resource.batch: [(ts_us, payload_str), ...] -> JSON list.

    Each entry's payload is itself JSON text, so it goes in as a JSON string
    (as the Murano record API wants: {"data_in": "{\\"001\\":73.1}"}).
    """
    if not entries:
        return "[]"
    head = '{"timestamp":'
    mid = ',"values":{' + json.dumps(alias) + ":"
    parts = []
    for ts_us, payload in entries:
        parts.append(head + str(int(ts_us)) + mid + json.dumps(payload) + "}}")
    return "[" + ",".join(parts) + "]"


def decode_data_out(text):
    """Parse a data_out payload into a dict of channel id -> requested value."""
    try:
        v = json.loads(text)
    except Exception:
        return None, "data_out is not valid JSON"
    if not isinstance(v, dict):
        return None, "data_out must be a JSON object of channel ids"
    return v, None
