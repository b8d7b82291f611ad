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

from uedge.compat import MICROPYTHON
from uedge.transport.http_client import HTTPConn, HTTPError
from uedge.transport.http_form import build_request, quote_plus, record_body  # noqa: F401  (record_body: API)
from uedge.transport.http_watch import LongPoll
from uedge.transport.http_writer import HTTPWriter
from uedge.transport.link import (
    DEFAULT_MAX_UPDATE,
    STATE_READ,
    WATCHED,
    AuthError,
    DeviceLink,
    MuranoError,
    reason_of,
)

FORM = "application/x-www-form-urlencoded; charset=utf-8"


class MuranoHTTP(HTTPWriter, DeviceLink, LongPoll):
    """Same device-side shape as murano_mqtt.MuranoMQTT, over the HTTP device API.
    The read and long poll of the watched resources: uedge/transport/http_watch.py."""

    # connect() reads the current values of the watched resources (MQTT cannot)
    reads_state = True

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
        DeviceLink.__init__(
            self, "http", host, port or (443 if tls else 80), device_id, auth, credentials_path, tls, ca, cert, key,
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
        # [(msg_id, path, body, record entries or None, 409 conflicts so far)]: the request (with the credential
        # of the moment) is built when it is sent. Emptied when the link drops:
        # the owner re-sends what was not acknowledged (Edge re-queues it).
        self._queue = []
        self._msg_id = 0
        self._connected = False
        self._retry_ms = 0  # the head of the queue waits until then (408/429/5xx)
        self._retries = 0
        self.on_reject = None
        default = 443 if tls else 80
        self._hostport = self.host if self.port == default else "%s:%d" % (self.host, self.port)
        self._watch_init()

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
            raise MuranoError("activation request failed: %s" % reason_of(e)) from None
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
            values = self._read_state()
        except AuthError:
            self._writer.close()
            self.last_error = "not authorized"
            raise
        except (OSError, HTTPError, ValueError) as e:
            # ValueError/UnicodeError: a host name that cannot be encoded (IDNA)
            self._writer.close()
            self.last_error = reason_of(e)
            raise MuranoError("connect to %s failed: %s" % (self._hostport, self.last_error)) from None
        self._connected = True
        self._up()
        if self.on_update:
            # the current values, not change notifications: marked STATE_READ
            for alias, value in values:
                self.on_update(alias, value, STATE_READ)
        return True

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
        self.retry_after(now, auth)
        self._note("connection lost: %s" % reason)
        self._state(False, reason)

    def sockets(self):
        """The live sockets (writer, long poll), for a host loop that waits in select()."""
        return [c.sock for c in (self._writer, self._watcher) if c.sock is not None]

    def poll(self, now_ms=None):
        g = self.gate  # nothing while it says the network is down (DeviceLink.gate)
        if g is not None and not g():
            return
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
            self._lost(now, reason_of(e))

    # -- content (loaded on first use: only OTA checks list or fetch content)

    def content_list(self, timeout_ms=None):
        """-> [{name, length, mime, url}] from /provision/download."""
        from uedge.transport.http_content import content_list

        return content_list(self, timeout_ms)

    def content_get(self, name, sink_write, timeout_ms=None):
        from uedge.transport.http_content import content_get

        return content_get(self, name, sink_write, timeout_ms)

    def request(self, method, path, timeout_ms=None):
        """One blocking request on the write connection -> (status, headers, body)."""
        return self._writer.roundtrip(self._req(method, path), timeout_ms)

    @property
    def base_url(self):
        return "%s://%s" % ("https" if self.tls else "http", self._hostport)

    def auth_headers(self):
        """The headers that authenticate a plain GET (token auth), for downloads."""
        return [("X-Exosite-CIK", self._secret)] if self.auth == "token" else []
