"""Murano IoT Connector device API over HTTP(S) (ExoEdge's default transport).

Endpoints (as the official murano-client sends them):
    POST /provision/activate          id=<device id>            -> 200 token | 409 | 404
    POST /onep:v1/stack/alias         <alias>=<value>&...       X-Exosite-CIK -> 204
    POST /onep:v1/stack/record        alias=<a>&<ts>=<v>&...    X-Exosite-CIK -> 204 (409 conflict)
    GET  /onep:v1/stack/alias?<a>&<b> Request-Timeout, If-Modified-Since -> 200 a=v&b=v | 304
    GET  /timestamp                   -> server epoch seconds
    GET  /provision/download          -> content names, ?id=<n>&info=true, ?id=<n>

Hand-rolled HTTP/1.1 over socket (+TLS) so it runs on MicroPython too. poll()
is non-blocking: writes and the long-poll each own a keep-alive connection with
a response state machine fed by non-blocking reads, so a 30 s long poll never
stalls the edge loop. (A blocking read with a short Request-Timeout would
either stall the loop or hammer the server; the state machine does neither.)
"""

from uedge.compat import MICROPYTHON, Clock
from uedge.link import DEFAULT_MAX_UPDATE, STATE_READ, AuthError, DeviceLink, MuranoError, _reason
from uedge.mqtt import _is_wouldblock, close_socket, nonblocking_io, open_connection, send_all
from uedge.murano import WATCHED

try:
    import select
except ImportError:  # pragma: no cover
    import uselect as select


FORM = "application/x-www-form-urlencoded; charset=utf-8"
_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_HEX = "0123456789ABCDEF"


class HTTPError(MuranoError):
    pass


class TooLarge(HTTPError):
    """A response body was larger than the receive buffer: it was read and thrown away."""

    def __init__(self, size, limit, head=b""):
        HTTPError.__init__(self, "response of %d bytes exceeds the device's limit of %d" % (size, limit))
        self.size = size
        self.limit = limit
        self.head = head


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


def record_body(entries, ts_divisor=1000000):
    """[(ts_us, {alias: value}), ...] -> alias=<a>&<ts>=<v>&...&alias=<b>&... grouped by alias."""
    by_alias = {}
    order = []
    for ts_us, values in entries:
        for alias, value in values.items():
            if alias not in by_alias:
                by_alias[alias] = []
                order.append(alias)
            by_alias[alias].append((int(ts_us) // ts_divisor, value))
    parts = []
    for alias in order:
        parts.append("alias=" + quote_plus(alias))
        for ts, value in by_alias[alias]:
            parts.append("%d=%s" % (ts, quote_plus(value)))
    return "&".join(parts)


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


class HTTPConn:
    """One keep-alive HTTP/1.1 connection; responses are read without blocking."""

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
        self._rx = bytearray(max_response + 4096)
        self._rxv = memoryview(self._rx)
        self._n = 0
        # an oversized Content-Length body is read through and thrown away
        self._drop_left = 0
        self._dropped = None  # (status, headers, size, first body bytes, keep-alive)
        self._req = None
        self._reused = False
        self._sent_ms = 0
        self._deadline_ms = 0
        self.requests = 0  # on this socket

    def open(self):
        self.close()
        self.sock = open_connection(self.host, self.port, self.tls, self.ssl_params, self.timeout_ms / 1000)
        self._read, self._write_fn = nonblocking_io(self.sock)
        self.requests = 0

    def close(self):
        self.sock = close_socket(self.sock)

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
                    if not self._drop_left:
                        self._fail()
                        raise HTTPError("response larger than %d bytes" % len(self._rx))
                    continue
                buf = self._rxv[self._n :]
            try:
                n = self._read(buf)
            except OSError as e:
                if _is_wouldblock(e):
                    n = None
                elif self._drop_left:
                    self._fail()
                    raise HTTPError("connection failed: %s" % _reason(e)) from None
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
        raise HTTPError("connection failed: %s" % _reason(e))

    def _fail(self):
        self._req = None
        self._drop_left = 0
        self.close()

    def _end_drop(self):
        status, _headers, size, head, keep = self._dropped
        self._dropped = None
        self._drop_left = 0
        self._req = None
        self._n = 0
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
        sock.close()


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


class MuranoHTTP(DeviceLink):
    """Same device-side shape as uedge.murano.MuranoMQTT, over the HTTP device API."""

    def __init__(
        self,
        host,
        port=None,
        device_id=None,
        auth="token",
        credentials_path=None,
        ca=None,
        cert=None,
        key=None,
        tls=True,
        server_hostname=None,
        clock=None,
        watch=WATCHED,
        long_poll_ms=30000,
        timeout_ms=10000,
        backoff_base_ms=1000,
        backoff_cap_ms=300000,
        auth_backoff_ms=30000,
        max_queue=32,
        max_response=None,
        record_ts_divisor=1000000,
        log=None,
    ):
        if auth not in ("token", "cert"):
            raise MuranoError('HTTP auth must be "token" or "cert", got %r' % (auth,))
        if auth == "cert" and not (cert and key):
            raise MuranoError("auth \"cert\" needs cert= and key=")
        if auth == "token" and not device_id:
            raise MuranoError("device_id is required for token auth")
        DeviceLink.__init__(
            self, host, port or (443 if tls else 80), device_id, auth, credentials_path, tls, ca, cert, key,
            server_hostname, clock, backoff_base_ms, backoff_cap_ms, auth_backoff_ms, timeout_ms, log)
        self.watch = tuple(watch)
        self.long_poll_ms = long_poll_ms
        self.max_queue = max_queue
        self.record_ts_divisor = record_ts_divisor
        if max_response is None:
            # form encoding can triple a JSON value (%22 for each quote ...)
            max_response = DEFAULT_MAX_UPDATE if MICROPYTHON else 3 * DEFAULT_MAX_UPDATE
        self.max_response = max_response
        p = self._ssl_params
        self._writer = HTTPConn(self.host, self.port, tls, p, timeout_ms, max_response)
        self._watcher = HTTPConn(self.host, self.port, tls, p, long_poll_ms + timeout_ms, max_response)
        # [(msg_id, path, body, is_record)]: the request (with the credential
        # of the moment) is built when it is sent. Emptied when the link drops:
        # the owner re-sends what was not acknowledged (Edge re-queues it).
        self._queue = []
        self._msg_id = 0
        self._connected = False
        self._since_s = 0
        self._offset_s = 0
        self._watch_retry_ms = 0
        self._retry_ms = 0  # the head of the queue waits until then (408/429/5xx)
        self._retries = 0
        self._state_path = None  # a plain read of these aliases is due on the watcher
        self._state_read = False  # the watcher's request in flight is such a read
        self.on_reject = None
        default = 443 if tls else 80
        self._hostport = self.host if self.port == default else "%s:%d" % (self.host, self.port)
        self._watch_path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in self.watch)

    def __repr__(self):
        return "<MuranoHTTP %s id=%s auth=%s connected=%s>" % (
            self._hostport, self.device_id, self.auth, self._connected)

    @property
    def connected(self):
        return self._connected

    def _headers(self, form=False):
        h = []
        if self.auth == "token":
            h.append(("X-Exosite-CIK", self._secret))
        if form:
            h.append(("Content-Type", FORM))
        h.append(("Accept", FORM))
        return h

    def _req(self, method, path, body=None, extra=(), form=False):
        h = self._headers(form)
        h.extend(extra)
        return build_request(method, self.host, self.port, path, h, body, 443 if self.tls else 80)

    # -- provisioning / connection

    def provision(self, timeout_ms=None):
        """POST /provision/activate id=<device id>; the 200 body is the token (saved 0600)."""
        if self.provisioned:
            return True
        body = "id=" + quote_plus(self.device_id)
        req = build_request("POST", self.host, self.port, "/provision/activate",
                            [("Content-Type", FORM)], body, 443 if self.tls else 80)
        conn = HTTPConn(self.host, self.port, self.tls, self._ssl_params, timeout_ms or self.timeout_ms)
        try:
            status, _h, resp = conn.roundtrip(req)
        except (OSError, HTTPError, ValueError) as e:
            raise MuranoError("activation request failed: %s" % _reason(e)) from None
        finally:
            conn.close()
        if status == 200:
            token = resp.decode().strip()
            if not token:
                raise MuranoError("activation returned an empty token")
            self._provisioned_with(token)
            self._note("activated %s" % self.device_id)
            return True
        if status == 409:
            raise MuranoError(
                "device %s is already activated (HTTP 409) and no token is stored here: "
                "reset the device in the connector to activate again" % self.device_id
            )
        if status == 404:
            raise MuranoError("device %s not found (HTTP 404): not whitelisted?" % self.device_id)
        if status in (401, 403):
            raise AuthError("not authorized: activation refused (HTTP %d)" % status)
        raise MuranoError("activation failed with HTTP %d" % status)

    def timestamp(self):
        """Server time (GET /timestamp) in epoch seconds."""
        st, _h, body = self._writer.roundtrip(build_request("GET", self.host, self.port, "/timestamp",
                                                            [("Accept", "*/*")], None, 443 if self.tls else 80))
        if st != 200:
            raise HTTPError("/timestamp -> HTTP %d" % st)
        return int(float(body.decode().strip()))

    def connect(self):
        """Activate if needed, open the connection, read the watched resources once."""
        self._want = True
        if not self.provisioned:
            self.provision()
        self.attempts += 1
        try:
            self._writer.close()
            self._watcher.close()
            self._writer.open()
            try:
                server_s = self.timestamp()
                self._offset_s = server_s - self.clock.epoch_us() // 1000000
                self._since_s = server_s
            except HTTPError:
                self._offset_s = 0
                self._since_s = self.clock.epoch_us() // 1000000
            try:
                values = self.read(self.watch)
            except TooLarge:
                values = self._read_each(self.watch)
        except AuthError:
            self._writer.close()
            self.last_error = "not authorized"
            raise
        except (OSError, HTTPError, ValueError) as e:
            # ValueError/UnicodeError: a host name that cannot be encoded (IDNA)
            self._writer.close()
            self.last_error = _reason(e)
            raise MuranoError("connect to %s failed: %s" % (self._hostport, self.last_error)) from None
        self._connected = True
        self._state_path = None
        self._state_read = False
        self._up()
        if self.on_update:
            # the current values, not change notifications: marked STATE_READ
            for alias, value in values:
                self.on_update(alias, value, STATE_READ)
        return True

    def read(self, aliases):
        """GET the current values -> [(alias, value)] (blocking)."""
        path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in aliases)
        st, _h, body = self._writer.roundtrip(self._req("GET", path))
        if st == 401:
            raise AuthError("not authorized (HTTP 401, device %s)" % self.device_id)
        if st == 204:
            return []
        if st != 200:
            raise HTTPError("read %s -> HTTP %d" % (",".join(aliases), st))
        return parse_form(body)

    def _read_each(self, aliases):
        """Read the aliases one by one; those too large are reported and skipped."""
        values = []
        for alias in aliases:
            try:
                values.extend(self.read((alias,)))
            except TooLarge as e:
                self._update_error(alias, "update of %d bytes exceeds the device's limit of %d" % (e.size, e.limit))
        return values

    def _drop(self):
        self._connected = False
        self._queue = []
        self._retries = 0
        self._retry_ms = 0
        self._writer._fail()
        self._watcher._fail()

    def close(self):
        self._want = False
        was = self._connected
        self._drop()
        if was:
            self._state(False, "closed")

    def _lost(self, now, reason, auth=False):
        self._drop()
        self.last_error = reason
        self.backoff.failed(now, self.auth_backoff_ms if auth else 0)
        self._note("connection lost: %s" % reason)
        self._state(False, reason)

    # -- data

    def _enqueue(self, path, body, is_record=False):
        if not self._connected:
            raise MuranoError("not connected")
        if len(self._queue) >= self.max_queue:
            raise MuranoError("%d requests waiting; poll() and retry" % self.max_queue)
        self._msg_id = self._msg_id + 1 if self._msg_id < 65535 else 1
        self._queue.append((self._msg_id, path, body, is_record))
        return self._msg_id

    def write(self, alias, value_str):
        return self._write_body(quote_plus(alias) + "=" + quote_plus(value_str))

    def write_many(self, values):
        return self._write_body(urlencode(values))

    def _write_body(self, body):
        return self._enqueue("/onep:v1/stack/alias", body)

    def record(self, entries):
        body = record_body(entries, self.record_ts_divisor)
        return self._enqueue("/onep:v1/stack/record", body, True)

    def pending(self):
        return len(self._queue)

    def cancel(self, msg_id):
        """Take a request that has not gone out yet off the queue (the owner
        gave up waiting and re-sends it another way). -> True if it was taken off."""
        for i, item in enumerate(self._queue):
            if item[0] == msg_id:
                if i == 0 and self._writer.busy:
                    return False  # on the wire: its answer decides
                del self._queue[i]
                if i == 0:
                    self._retries = 0
                    self._retry_ms = 0
                return True
        return False

    def poll(self, now_ms=None):
        now = self.clock.now_ms() if now_ms is None else now_ms
        if not self._connected:
            self._reconnect(now)
            return
        self._stable(now)
        try:
            self._poll_writer(now)
            if self._connected:
                self._poll_watcher(now)
        except AuthError as e:
            self._lost(now, str(e), auth=True)
        except (OSError, HTTPError) as e:
            self._lost(now, _reason(e))

    def _poll_writer(self, now):
        w = self._writer
        while True:
            if not w.busy:
                if not self._queue or now < self._retry_ms:
                    return
                head = self._queue[0]
                w.request(self._req("POST", head[1], head[2], form=True))
            try:
                r = w.poll()
            except TooLarge as e:  # a huge answer to a write: only its status matters
                r = (e.status, {}, b"")
            if r is None:
                return
            status, _h, body = r
            msg_id, _path, _body, is_record = self._queue[0]
            if 200 <= status < 300 or (status == 409 and is_record):
                # 409 on record: those timestamps are already stored (a retry)
                self._queue.pop(0)
                self._retries = 0
                if self.on_ack:
                    self.on_ack(msg_id)
            elif status == 401:
                raise AuthError("not authorized (HTTP 401, device %s)" % self.device_id)
            elif status in (408, 429) or status >= 500:
                # busy or failing for now: the request stays at the head and
                # goes again after a pause (Retry-After when the server gives one)
                d = 1000 << (self._retries if self._retries < 5 else 5)
                ra = _h.get("retry-after", "")
                if ra.isdigit():
                    d = int(ra) * 1000
                if d > 60000:
                    d = 60000
                self._retries += 1
                self._retry_ms = now + d
                self._note("request %d got HTTP %d; again in %d ms" % (msg_id, status, d))
                return
            elif 400 <= status < 500:
                # refused for good (400 bad request, 413 too large, ...): the
                # owner decides (the Edge splits a batch or drops the report)
                self._queue.pop(0)
                self._retries = 0
                self._note("request %d rejected with HTTP %d" % (msg_id, status))
                if self.on_reject:
                    self.on_reject(msg_id, status, body)
            else:
                raise HTTPError("unexpected HTTP %d" % status)

    def _poll_watcher(self, now):
        if not self.watch:
            return
        w = self._watcher
        if not w.busy:
            if now < self._watch_retry_ms:
                return
            if self._state_path is not None:
                # plain read (no long poll) of the other aliases, see below
                req = self._req("GET", self._state_path)
                self._state_path = None
                self._state_read = True
                wait = self.timeout_ms
            else:
                req = self._req(
                    "GET",
                    self._watch_path,
                    extra=(("Request-Timeout", str(self.long_poll_ms)), ("If-Modified-Since", str(self._since_s))),
                )
                self._state_read = False
                wait = self.long_poll_ms + self.timeout_ms
            try:
                w.request(req, wait)
            except OSError as e:
                raise HTTPError("long poll failed: %s" % _reason(e)) from None
            return
        try:
            r = w.poll()
        except TooLarge as e:
            self._too_large(e, now)
            return
        if r is None:
            return
        status, _h, body = r
        if status == 401:
            raise AuthError("not authorized (HTTP 401, device %s)" % self.device_id)
        state = self._state_read
        self._state_read = False
        if not state:
            self._since_s = self.clock.epoch_us() // 1000000 + self._offset_s
        if status == 200:
            updates = parse_form(body)
            if self.on_update:
                for alias, value in updates:
                    self.on_update(alias, value, STATE_READ if state else None)
        elif status not in (204, 304):
            self._note("%s got HTTP %d" % ("read" if state else "long poll", status))
            self._watch_retry_ms = now + 1000

    def _too_large(self, e, now):
        """The watcher's answer was larger than the device's limit (thrown away).

        It is reported under the alias the body starts with. The connector
        offers an unacknowledged value again on every long poll within its
        second, so the next long poll asks from the next second on, and a
        plain read of the other aliases first picks up what may have been
        waiting behind the oversized value.
        """
        i = e.head.find(b"=")
        alias = unquote_plus(e.head[:i]) if i > 0 else self.watch[0]
        self._update_error(alias, "update of %d bytes exceeds the device's limit of %d" % (e.size, e.limit))
        if self._state_read:
            self._state_read = False
            return
        self._since_s = self.clock.epoch_us() // 1000000 + self._offset_s + 1
        others = [a for a in self.watch if a != alias]
        if others:
            self._state_path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in others)

    # -- content

    def content_list(self, timeout_ms=None):
        """-> [{name, length, mime, url}] from /provision/download."""
        st, _h, body = self._writer.roundtrip(self._req("GET", "/provision/download"), timeout_ms)
        if st == 401:
            raise AuthError("not authorized (HTTP 401)")
        if st == 204:
            return []
        if st != 200:
            raise HTTPError("content list -> HTTP %d" % st)
        names = [n.strip() for n in body.decode().replace("\r", "").split("\n") if n.strip()]
        out = []
        scheme = "https" if self.tls else "http"
        for name in names:
            path = "/provision/download?id=" + quote_plus(name)
            item = {"name": name, "length": None, "mime": None,
                    "url": "%s://%s%s" % (scheme, self._hostport, path)}
            st, _h, info = self._writer.roundtrip(self._req("GET", path + "&info=true"), timeout_ms)
            if st == 200:
                f = info.decode().strip().split(",")
                item["mime"] = f[0] if f else None
                if len(f) > 1 and f[1].isdigit():
                    item["length"] = int(f[1])
            out.append(item)
        return out

    def content_get(self, name, sink_write, timeout_ms=None):
        scheme = "https" if self.tls else "http"
        url = "%s://%s/provision/download?id=%s" % (scheme, self._hostport, quote_plus(name))
        h = [("X-Exosite-CIK", self._secret)] if self.auth == "token" else []
        return http_get(url, sink_write, timeout_ms=timeout_ms or self.timeout_ms, headers=h,
                        ssl_params=self._ssl_params)
