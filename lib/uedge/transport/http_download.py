"""A streamed HTTP GET for downloads (OTA bundles, content): loaded on first use.

http_get reads the response headers, then hands the body to a sink in
pieces, so a download never needs a buffer of its size.
"""

from uedge.compat import MICROPYTHON
from uedge.transport.http_client import HTTPError, parse_url
from uedge.transport.http_form import build_request
from uedge.transport.net import close_socket, open_connection


def http_get(url, sink_write, ca=None, timeout_ms=10000, headers=(), ssl_params=None):
    """Stream a GET of url into sink_write(bytes). Returns the byte count."""
    tls, host, port, path = parse_url(url)
    params = dict(ssl_params or {})
    if ca and "ca" not in params:
        params["ca"] = ca
    sock = open_connection(host, port, tls, params, timeout_ms / 1000)
    try:
        req = build_request("GET", host, port, path, list(headers) + [("Connection", "close")],
                            default_port=443 if tls else 80)
        sock.write(req) if MICROPYTHON else sock.sendall(req)
        read = sock.read if MICROPYTHON else sock.recv
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = read(1024)
            if not chunk:
                raise HTTPError("connection closed before response headers")
            buf += chunk
            if len(buf) > 16384:
                raise HTTPError("response headers too large")
        h = buf.find(b"\r\n\r\n")
        lines = buf[:h].decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        hdrs = {}
        for line in lines[1:]:
            i = line.find(":")
            if i > 0:
                hdrs[line[:i].strip().lower()] = line[i + 1 :].strip()
        if status != 200:
            raise HTTPError("GET %s -> HTTP %d" % (path.split("?")[0], status))
        rest = buf[h + 4 :]
        if "chunked" in hdrs.get("transfer-encoding", "").lower():
            return _stream_chunked(rest, read, sink_write)
        left = int(hdrs["content-length"]) if "content-length" in hdrs else -1
        total = 0
        while True:
            if rest:
                if left >= 0 and len(rest) > left - total:
                    rest = rest[: left - total]
                sink_write(rest)
                total += len(rest)
            if left >= 0 and total >= left:
                return total
            rest = read(4096)
            if not rest:
                if left >= 0:
                    raise HTTPError("download truncated at %d of %d bytes" % (total, left))
                return total
    finally:
        close_socket(sock)  # the TLS reserve is taken again (net.tls_reserve)


def _stream_chunked(rest, read, sink_write):
    total = 0
    buf = rest
    while True:
        while b"\r\n" not in buf:
            more = read(1024)
            if not more:
                raise HTTPError("truncated chunked download")
            buf += more
        i = buf.find(b"\r\n")
        size = int(buf[:i].split(b";")[0].strip(), 16)
        buf = buf[i + 2 :]
        if size == 0:
            return total
        while len(buf) < size + 2:
            more = read(4096)
            if not more:
                raise HTTPError("truncated chunked download")
            buf += more
        sink_write(buf[:size])
        total += size
        buf = buf[size + 2 :]
