"""A tiny real HTTP server speaking the Murano HTTP device API; records every request."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

TOKEN = "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"


class DeviceAPI:
    def __init__(self, tls_context=None):
        self.requests = []
        self.token = TOKEN  # the credential the server accepts
        # reject(path, body) -> an HTTP status to answer instead, or None
        self.reject = None
        self.drop_idle = False  # close every connection after its response, silently
        self.activated = set()
        self.values = {}
        self.cond = threading.Condition()
        self.version = 0
        self.content = {"fw.bin": (b"\x00\x01firmware" * 100, "application/octet-stream")}
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _send(self, code, body=b"", ctype="text/plain; charset=utf-8"):
                rec = getattr(self, "_rec", None)
                if rec is not None:
                    rec["status"] = code
                self.send_response(code)
                if code not in (204, 304):
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body and code not in (204, 304):
                    self.wfile.write(body)
                if api.drop_idle:
                    self.close_connection = True  # like a server timing out idle keep-alives

            def _record(self, body):
                self._rec = {
                    "method": self.command, "path": self.path, "headers": dict(self.headers),
                    "body": body, "conn": id(self.connection), "status": None,
                }
                api.requests.append(self._rec)

            def _auth(self):
                if self.headers.get("X-Exosite-CIK") != api.token:
                    self._send(401)
                    return False
                return True

            def do_POST(self):
                body = self._body()
                self._record(body)
                path = urlsplit(self.path).path
                if path == "/provision/activate":
                    sn = dict(parse_qsl(body.decode())).get("id")
                    if sn in api.activated:
                        return self._send(409)
                    api.activated.add(sn)
                    return self._send(200, TOKEN.encode())
                if not self._auth():
                    return
                if api.reject is not None:
                    code = api.reject(path, body)
                    if code:
                        return self._send(code)
                if path == "/onep:v1/stack/alias":
                    with api.cond:
                        for k, v in parse_qsl(body.decode(), keep_blank_values=True):
                            api.values[k] = v
                    return self._send(204)
                if path == "/onep:v1/stack/record":
                    return self._send(204)
                self._send(404)

            def do_GET(self):
                self._record(b"")
                u = urlsplit(self.path)
                if u.path == "/timestamp":
                    return self._send(200, str(int(time.time())).encode())
                if not self._auth():
                    return
                if u.path == "/onep:v1/stack/alias":
                    aliases = [a for a in u.query.split("&") if a]
                    wait = self.headers.get("Request-Timeout")
                    with api.cond:
                        if wait:
                            v0 = api.version
                            api.cond.wait_for(lambda: api.version != v0, int(wait) / 1000)
                            if api.version == v0:
                                return self._send(304)
                        from urllib.parse import urlencode

                        body = urlencode([(a, api.values[a]) for a in aliases if a in api.values])
                    return self._send(200, body.encode(), "application/x-www-form-urlencoded; charset=utf-8")
                if u.path == "/provision/download":
                    q = dict(parse_qsl(u.query))
                    if "id" not in q:
                        return self._send(200, "\r\n".join(api.content).encode())
                    data, mime = api.content[q["id"]]
                    if q.get("info"):
                        return self._send(200, ("%s,%d,%d,false" % (mime, len(data), 1700000000)).encode())
                    return self._send(200, data, mime)
                self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set_value(self, alias, value):
        """The cloud side changes a resource: wakes long polls."""
        with self.cond:
            self.values[alias] = value
            self.version += 1
            self.cond.notify_all()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
