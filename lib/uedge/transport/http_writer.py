"""The write side of MuranoHTTP: the request queue, writes, records, the
write connection's answers (a part of uedge.transport.murano_http.MuranoHTTP).

Requests wait in self._queue as (msg_id, path, body, record entries or None,
409 conflicts so far) and go one at a time on the keep-alive write
connection; the request (with the credential of the moment) is built when it
is sent. A record answered 409 (points already stored at those timestamps,
nothing of the request stored) is sent again without the conflicting points;
on_ack(msg_id, [their timestamps]) reports them once the rest is stored.
"""

from uedge.transport.http_client import HTTPError, TooLarge
from uedge.transport.http_form import conflict_timestamps, quote_plus, record_body, urlencode, without_points
from uedge.transport.link import AuthError, MuranoError


class HTTPWriter:
    def _enqueue(self, path, body, entries=None):
        if not self._connected:
            raise MuranoError("not connected")
        if len(self._queue) >= self.max_queue:
            raise MuranoError("%d requests waiting; poll() and retry" % self.max_queue)
        self._msg_id = self._msg_id + 1 if self._msg_id < 65535 else 1
        self._queue.append((self._msg_id, path, body, entries, None))
        return self._msg_id

    def write(self, alias, value_str):
        return self._write_body(quote_plus(alias) + "=" + quote_plus(value_str))

    def write_many(self, values):
        return self._write_body(urlencode(values))

    def _write_body(self, body):
        return self._enqueue("/onep:v1/stack/alias", body)

    def record(self, entries):
        """Write points with their own timestamps (whole seconds by default).
        A 409 (points already stored there) is answered by sending the rest
        again without them; on_ack(msg_id, [conflicting timestamps]) then."""
        body = record_body(entries, self.record_ts_divisor)
        return self._enqueue("/onep:v1/stack/record", body, entries)

    def ready_to_send(self):
        """True when requests are queued and the write connection is free to take one now."""
        return self._connected and bool(self._queue) and not self._writer.busy

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
            msg_id, path, _body, entries, conflicts = self._queue[0]
            if status == 409 and entries is not None and self._conflict(body):
                continue  # the rest goes again, without the conflicting points
            if 200 <= status < 300:
                self._queue.pop(0)
                self._retries = 0
                if self.on_ack:
                    if conflicts:
                        self.on_ack(msg_id, conflicts)
                    else:
                        self.on_ack(msg_id)
            elif status in (401, 403):
                raise AuthError("not authorized (HTTP %d, device %s)" % (status, self.device_id))
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

    def _conflict(self, body):
        """409 on the record at the head: nothing of it was stored; take out the
        points at the timestamps the connector names. -> False if it names none of them."""
        msg_id, path, _body, entries, conflicts = self._queue[0]
        alias, stamps = conflict_timestamps(body)
        kept, removed = without_points(entries, alias, stamps, self.record_ts_divisor)
        if not removed:
            return False
        conflicts = (conflicts or []) + removed if alias == "data_in" else conflicts
        self._note("request %d: %d points already stored (HTTP 409), sending the rest" % (msg_id, len(removed)))
        if kept:
            self._queue[0] = (msg_id, path, record_body(kept, self.record_ts_divisor), kept, conflicts)
        else:
            self._queue.pop(0)
            self._retries = 0
            if self.on_ack:
                self.on_ack(msg_id, conflicts or [])
        return True
