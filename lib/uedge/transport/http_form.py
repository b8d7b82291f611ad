"""URL and form encoding for the HTTP client (what urllib.parse does, on MicroPython too)."""

_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_HEX = "0123456789ABCDEF"


def _ascii_table():
    t = {}
    for c in range(128):
        if c == 32:
            t[c] = "+"
        elif c not in _SAFE:
            t[c] = "%" + _HEX[c >> 4] + _HEX[c & 15]
    return t


# CPython: str.translate does an ASCII text in one C call (the common case:
# JSON data_in); MicroPython has no str.translate and takes the loop below
_TABLE = _ascii_table() if hasattr(str, "translate") and hasattr(str, "isascii") else None


def quote_plus(s):
    """Form-encode s (str) the way urllib.parse.quote_plus does."""
    if _TABLE is not None and isinstance(s, str) and s.isascii():
        return s.translate(_TABLE)
    b = s.encode() if isinstance(s, str) else s
    out = []
    for c in b:
        if c in _SAFE:
            out.append(chr(c))
        elif c == 32:
            out.append("+")
        else:
            out.append("%" + _HEX[c >> 4] + _HEX[c & 15])
    return "".join(out)


def unquote_plus(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    out = bytearray()
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c == 43:  # +
            out.append(32)
        elif c == 37 and i + 2 < n:  # %XX
            try:
                out.append(int(b[i + 1 : i + 3].decode(), 16))
                i += 2
            except ValueError:
                out.append(c)
        else:
            out.append(c)
        i += 1
    return out.decode()


def urlencode(pairs):
    """[(k, v), ...] or {k: v} -> k=v&k2=v2 (form encoding)."""
    if isinstance(pairs, dict):
        pairs = pairs.items()
    return "&".join(quote_plus(k) + "=" + quote_plus(v) for k, v in pairs)


def parse_form(body):
    """a=1&b=2 -> [(a, 1), (b, 2)] decoded; keys without '=' get ''."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = bytes(body).decode()
    out = []
    for part in body.split("&"):
        if not part:
            continue
        i = part.find("=")
        if i < 0:
            out.append((unquote_plus(part), ""))
        else:
            out.append((unquote_plus(part[:i]), unquote_plus(part[i + 1 :])))
    return out


def build_request(method, host, port, path, headers=(), body=None, default_port=443):
    lines = [
        "%s %s HTTP/1.1" % (method, path),
        "Host: " + (host if port == default_port else "%s:%d" % (host, port)),
        "User-Agent: uedge/0.1",
    ]
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        lines.append("Content-Length: %d" % len(body))
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + body if body else head


def record_body(entries, ts_divisor=1000000):
    """[(ts_us, {alias: value}), ...] -> alias=<a>&<ts>=<v>&...&alias=<b>&... grouped by alias."""
    by_alias = {}
    order = []
    for ts_us, values in entries:
        for alias in values:
            if alias not in by_alias:
                by_alias[alias] = []
                order.append(alias)
            by_alias[alias].append((int(ts_us) // ts_divisor, values[alias]))
    parts = []
    for alias in order:
        parts.append("alias=" + quote_plus(alias))
        for ts, value in by_alias[alias]:
            parts.append("%d=%s" % (ts, quote_plus(value)))
    return "&".join(parts)


def conflict_timestamps(body):
    """409 body of a record, <alias>=<ts>,<ts>,... -> (alias, [ts, ...]) as
    murano-client's get_conflict_timestamps reads it; (None, []) if unreadable."""
    try:
        text = unquote_plus(body if isinstance(body, str) else bytes(body).decode())
        i = text.find("=")
        if i <= 0:
            return None, []
        return text[:i], [int(float(x)) for x in text[i + 1:].strip().split(",") if x.strip()]
    except (ValueError, UnicodeError):
        return None, []


def without_points(entries, alias, stamps, ts_divisor):
    """entries without the points of alias at the record timestamps stamps -> (kept, removed)."""
    gone = {}
    for ts in stamps:
        gone[ts] = True
    kept = []
    removed = []
    for ts_us, values in entries:
        ts = int(ts_us) // ts_divisor
        if alias in values and ts in gone:
            removed.append(ts)
            if len(values) == 1:
                continue
            values = dict(values)
            del values[alias]
        kept.append((ts_us, values))
    return kept, removed
