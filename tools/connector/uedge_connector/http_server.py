"""A small HTTP/1.1 server on asyncio streams (keep-alive, Content-Length and
chunked request bodies), enough for the device and admin APIs."""

import asyncio
import email.utils
import logging
import urllib.parse

from .hub import peer_common_name

LOG = logging.getLogger("uedge_connector.http")

MAX_HEADER = 64 * 1024
IDLE_TIMEOUT = 120.0

REASONS = {
    200: "OK", 201: "Created", 204: "No Content", 206: "Partial Content",
    302: "Found", 303: "See Other", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 411: "Length Required",
    413: "Payload Too Large", 416: "Range Not Satisfiable",
    422: "Unprocessable Content", 500: "Internal Server Error",
}


class Request:
    def __init__(self, method, target, version, headers, body, writer):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.writer = writer
        path, _, query = target.partition("?")
        self.path = urllib.parse.unquote(path)
        self.raw_path = path
        self.query_string = query
        self.query = urllib.parse.parse_qs(query, keep_blank_values=True)

    def arg(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def peer_common_name(self):
        return peer_common_name(self.writer)


class Response:
    def __init__(self, status=200, body=b"", content_type="text/plain; charset=utf-8",
                 headers=None):
        self.status = status
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        self.headers = dict(headers or {})
        if body or status not in (204, 304):
            self.headers.setdefault("Content-Type", content_type)


class HTTPError(Exception):
    def __init__(self, status, message=""):
        super().__init__(message)
        self.status = status
        self.message = message


async def _read_body(reader, headers, max_body):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(out)
            if len(out) + size > max_body:
                raise HTTPError(413, "request body too large")
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    length = headers.get("content-length")
    if length is None:
        return b""
    try:
        n = int(length)
    except ValueError:
        raise HTTPError(400, "bad Content-Length") from None
    if n > max_body:
        raise HTTPError(413, "request body too large")
    return await reader.readexactly(n) if n else b""


class HTTPServer:
    """handler: async callable(Request) -> Response (may raise HTTPError)."""

    def __init__(self, handler, name="http", max_body=20 * 1024 * 1024):
        self.handler = handler
        self.name = name
        self.max_body = max_body

    async def start(self, host, port, ssl_context=None):
        return await asyncio.start_server(self._client, host, port, ssl=ssl_context,
                                          ssl_handshake_timeout=10 if ssl_context else None,
                                          limit=MAX_HEADER)

    async def _client(self, reader, writer):
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self._send(writer, Response(400, "headers too large"), False, "GET")
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._send(writer, Response(400, "bad request line"), False, "GET")
                    return
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                conn_hdr = headers.get("connection", "").lower()
                keep = (version == "HTTP/1.1" and conn_hdr != "close") or conn_hdr == "keep-alive"
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                try:
                    body = await _read_body(reader, headers, self.max_body)
                    req = Request(method, target, version, headers, body, writer)
                    resp = await self.handler(req)
                except HTTPError as e:
                    resp = Response(e.status, e.message)
                    if e.status == 413:
                        keep = False
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except Exception:  # noqa: BLE001 - report, keep serving
                    LOG.exception("%s: error handling %s %s", self.name, method,
                                  target.split("?")[0])
                    resp = Response(500, "internal error")
                if not await self._send(writer, resp, keep, method):
                    return
                if not keep:
                    return
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _send(self, writer, resp, keep, method):
        reason = REASONS.get(resp.status, "Status")
        hdrs = dict(resp.headers)
        hdrs.setdefault("Date", email.utils.formatdate(usegmt=True))
        hdrs.setdefault("Server", "uedge-connector")
        if resp.status not in (204, 304):
            hdrs["Content-Length"] = str(len(resp.body))
        hdrs["Connection"] = "keep-alive" if keep else "close"
        out = ["HTTP/1.1 %d %s" % (resp.status, reason)]
        out.extend("%s: %s" % kv for kv in hdrs.items())
        data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        if method != "HEAD" and resp.status not in (204, 304):
            data += resp.body
        try:
            writer.write(data)
            await writer.drain()
            return True
        except ConnectionError:
            return False
