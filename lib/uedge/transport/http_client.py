"""A small HTTP/1.1 client over socket (+TLS) that runs on MicroPython too.

HTTPConn owns one keep-alive connection with a response state machine fed by
non-blocking reads, so a long poll never stalls the loop (a streamed download
is http_download.http_get). Requests are built with http_form.build_request.
"""

from uedge.compat import MICROPYTHON, Clock
from uedge.transport.link import DEFAULT_MAX_UPDATE, MuranoError, reason_of
from uedge.transport.net import (
    close_socket,
    is_wouldblock,
    nonblocking_io,
    open_connection,
    send_all,
    tick,
)

try:
    import select
except ImportError:  # pragma: no cover
    import uselect as select


class HTTPError(MuranoError):
    pass


class TooLarge(HTTPError):
    """A response body was larger than the receive buffer: it was read and thrown away."""

    def __init__(self, size, limit, head=b""):
        HTTPError.__init__(self, "response of %d bytes exceeds the device's limit of %d" % (size, limit))
        self.size = size
        self.limit = limit
        self.head = head


def parse_url(url):
    """https://host:port/path?q -> (tls, host, port, path)."""
    if url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    elif url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    else:
        raise HTTPError("unsupported URL %r (http:// or https:// only)" % (url,))
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    if hostport.startswith("["):
        j = hostport.find("]")
        host = hostport[1:j]
        if hostport[j + 1 : j + 2] == ":":
            port = int(hostport[j + 2 :])
    elif ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
    else:
        host = hostport
    return tls, host, port, path


def _chunked(buf, start, end):
    """Decode a complete chunked body in buf[start:end] -> bytes, or None if incomplete."""
    out = bytearray()
    i = start
    while True:
        j = buf.find(b"\r\n", i, end)
        if j < 0:
            return None
        line = bytes(buf[i:j]).split(b";")[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise HTTPError("malformed chunk size %r" % (line,)) from None
        i = j + 2
        if size == 0:
            # trailers end with an empty line
            k = buf.find(b"\r\n\r\n", j, end)
            if k >= 0 or (end - i >= 2 and bytes(buf[i : i + 2]) == b"\r\n"):
                return bytes(out)
            return None
        if i + size + 2 > end:
            return None
        out += buf[i : i + size]
        i += size + 2


HEAD_ROOM = 4096  # the status line and headers, beyond the largest body kept
RX_START = 1024  # receive buffer while responses are small (most are: 204, a token)


class HTTPConn:
    """One keep-alive HTTP/1.1 connection; responses are read without blocking.

    The receive buffer starts at RX_START bytes and grows only as far as a
    response needs, up to max_response + HEAD_ROOM (the body size is known from
    Content-Length; a chunked body doubles it); it shrinks back once that
    response is read. So the heap holds a large buffer only while a large
    response (a config_io, an OTA listing) is arriving, and never more than
    the settings (max_update) allow.
    """

    def __init__(self, host, port, tls=True, ssl_params=None, timeout_ms=10000, max_response=None):
        if max_response is None:
            max_response = DEFAULT_MAX_UPDATE
        self.host = host
        self.port = port
        self.tls = tls
        self.ssl_params = ssl_params or {}
        self.timeout_ms = timeout_ms
        self.clock = Clock()  # network timeouts run on real time, whatever clock the caller uses
        self.sock = None
        self.max_response = max_response
        self._cap = max_response + HEAD_ROOM
        self._rx = self._rxv = None
        self._small()
        self._n = 0
        # an oversized Content-Length body is read through and thrown away
        self._drop_left = 0
        self._dropped = None  # (status, headers, size, first body bytes, keep-alive)
        self._req = None
        self._reused = False
        self._sent_ms = 0
        self._deadline_ms = 0
        self.requests = 0  # on this socket
        self._ready = None  # poll object of the socket (CPython), see open()
        self._pending = None

    def open(self):
        self.close()
        self.sock = open_connection(self.host, self.port, self.tls, self.ssl_params, self.timeout_ms / 1000)
        self._read, self._write_fn = nonblocking_io(self.sock)
        self.requests = 0
        if not MICROPYTHON:
            # CPython: a non-blocking TLS read that finds nothing raises
            # SSLWantReadError, an exception whose message OpenSSL builds:
            # several times the cost of asking first (poll, below)
            self._ready = select.poll()
            self._ready.register(self.sock, select.POLLIN)
            self._pending = getattr(self.sock, "pending", None)

    def close(self):
        self.sock = close_socket(self.sock)
        self._ready = None

    def _nothing_to_read(self):
        """CPython: True when a read would find nothing (no decrypted bytes
        waiting in the TLS layer, the socket not readable)."""
        r = self._ready
        if r is None:
            return False
        if self._pending is not None and self._pending():
            return False
        return not r.poll(0)

    def _small(self):
        if self._rx is None or len(self._rx) > RX_START:
            self._rx = bytearray(min(RX_START, self._cap))
            self._rxv = memoryview(self._rx)

    def _grow(self, need):
        """Make the buffer hold at least need bytes (at most the cap): False if it cannot."""
        have = len(self._rx)
        if need <= have:
            return True
        if need > self._cap:
            return False
        size = min(self._cap, max(need, 2 * have))
        self._rxv = None
        nb = bytearray(size)
        nb[: self._n] = self._rx[: self._n]
        self._rx = nb
        self._rxv = memoryview(nb)
        return True

    @property
    def busy(self):
        return self._req is not None

    def request(self, data, wait_ms=None):
        """Send one request (bytes). The response comes from poll()."""
        if self._req is not None:
            raise HTTPError("request already in flight")
        self._reused = self.sock is not None and self.requests > 0
        if self.sock is None:
            self.open()
        self._req = data
        self._n = 0
        self._drop_left = 0
        try:
            self._send(data)
        except OSError:
            if not self._reused:
                self._req = None
                raise
            self.open()  # the server closed the idle keep-alive connection
            self._reused = False
            self._send(data)
        self.requests += 1
        now = self.clock.now_ms()
        self._deadline_ms = now + (self.timeout_ms if wait_ms is None else wait_ms)

    def _send(self, data):
        try:
            send_all(self.sock, self._write_fn, data, -1, self.clock, self.timeout_ms, OSError)
        except OSError:
            self.close()
            raise

    def poll(self):
        """-> None while waiting, else (status, headers{lower: value}, body bytes).

        A body larger than max_response is read and thrown away, then
        TooLarge is raised (the connection stays usable).
        """
        if self._req is None:
            return None
        while True:
            if self._drop_left:
                buf = self._rxv
            else:
                if self._n >= len(self._rx):
                    r = self._parse(eof=False)
                    if r is not None:
                        return r
                    if not self._drop_left and not self._grow(self._n + 1):
                        self._fail()
                        raise HTTPError("response larger than %d bytes" % self._cap)
                    continue
                buf = self._rxv[self._n :]
            if self._nothing_to_read():
                break
            try:
                n = self._read(buf)
            except OSError as e:
                if is_wouldblock(e):
                    n = None
                elif self._drop_left:
                    self._fail()
                    raise HTTPError("connection failed: %s" % reason_of(e)) from None
                else:
                    return self._broken(e)
            if n is None:
                break
            if n == 0:
                if self._drop_left:
                    self._fail()
                    raise HTTPError("truncated body")
                r = self._parse(eof=True)
                if r is not None:
                    self.close()
                    return r
                return self._broken(OSError("connection closed by server"))
            if self._drop_left:
                self._drop_left -= n
                if self._drop_left <= 0:
                    self._end_drop()
                continue
            self._n += n
        if self._drop_left:
            if self.clock.now_ms() > self._deadline_ms:
                self._fail()
                raise HTTPError("no complete response within the request timeout")
            return None
        r = self._parse(eof=False)
        if r is not None:
            return r
        if self.clock.now_ms() > self._deadline_ms:
            self._fail()
            raise HTTPError("no complete response within the request timeout")
        return None

    def _broken(self, e):
        if self._reused and self._n == 0:
            # stale keep-alive: resend once on a fresh connection
            data = self._req
            self._req = None
            self.close()
            self.request(data, self._deadline_ms - self.clock.now_ms())
            self._reused = False
            return None
        self._fail()
        raise HTTPError("connection failed: %s" % reason_of(e))

    def _fail(self):
        self._req = None
        self._drop_left = 0
        self._n = 0
        self._small()
        self.close()

    def _end_drop(self):
        status, _headers, size, head, keep = self._dropped
        self._dropped = None
        self._drop_left = 0
        self._req = None
        self._n = 0
        self._small()
        if not keep:
            self.close()
        e = TooLarge(size, self.max_response, head)
        e.status = status
        raise e

    def _parse(self, eof):
        buf = self._rx
        end = self._n
        h = buf.find(b"\r\n\r\n", 0, end)
        if h < 0:
            if eof and end:
                self._fail()
                raise HTTPError("truncated response headers")
            return None
        head = bytes(buf[:h]).decode()
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            self._fail()
            raise HTTPError("not an HTTP response: %r" % (lines[0][:60],))
        try:
            status = int(parts[1])
        except ValueError:
            self._fail()
            raise HTTPError("bad status line %r" % (lines[0][:60],)) from None
        headers = {}
        for line in lines[1:]:
            i = line.find(":")
            if i > 0:
                headers[line[:i].strip().lower()] = line[i + 1 :].strip()
        start = h + 4
        if 100 <= status < 200:  # interim response: drop it, keep reading
            left = end - start
            self._rxv[:left] = self._rxv[start:end]
            self._n = left
            return self._parse(eof)
        keep = headers.get("connection", "").lower() != "close"
        if status in (204, 304) or self._req[:5] == b"HEAD ":
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = _chunked(buf, start, end)
            if body is None:
                if eof:
                    self._fail()
                    raise HTTPError("truncated chunked body")
                return None
        elif "content-length" in headers:
            clen = int(headers["content-length"])
            if start + clen > len(buf) and self._grow(start + clen):
                return None  # room made: read on
            if start + clen > len(buf):
                # too large to hold: read it through without keeping it
                have = end - start
                self._dropped = (status, headers, clen, bytes(buf[start : start + min(have, 64)]), keep)
                self._drop_left = clen - have
                self._n = 0
                return None
            if end - start < clen:
                if eof:
                    self._fail()
                    raise HTTPError("truncated body")
                return None
            body = bytes(buf[start : start + clen])
        else:
            if not eof:
                return None
            body = bytes(buf[start:end])
            keep = False
        self._req = None
        self._n = 0
        self._small()
        if not keep:
            self.close()
        return status, headers, body

    def roundtrip(self, data, timeout_ms=None):
        """Blocking request -> (status, headers, body)."""
        self.request(data, timeout_ms)
        while True:
            r = self.poll()
            if r is not None:
                return r
            if self.sock is not None:
                p = select.poll()
                p.register(self.sock, select.POLLIN)
                p.poll(50)
            tick()
