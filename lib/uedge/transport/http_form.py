"""URL and form encoding for the HTTP client (what urllib.parse does, on MicroPython too)."""

_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_HEX = "0123456789ABCDEF"


def quote_plus(s):
    """Form-encode s (str) the way urllib.parse.quote_plus does."""
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
