"""The HTTP device API's read and long poll of the watched resources (a part of
murano_http.MuranoHTTP).

    GET /onep:v1/stack/alias?<a>&<b>                      the current values
    GET ... Request-Timeout: <ms>, If-Modified-Since: <s>  what the ExoSense side
                                                           set after second <s>

If-Modified-Since and Last-Modified have a resolution of one second: a value
set in the same second as <s> is not "modified since <s>". Asking from the
second of the last read or answer would miss a change made later in that same
second, so the watcher asks from one second before (floor = L - 1, L the
second of the last read or of the last answer's Last-Modified), drops a
value it has already delivered from a second after the floor it asked with
(unless the answer's Last-Modified shows a later write of it), and moves the floor to L once a poll sent after second L
had ended has been answered (everything set during L was in that answer).

Updates go to on_update(alias, value, ts_us): ts_us is STATE_READ for the
values read on connect (no time: the current state, not a change), else the
answer's Last-Modified in microseconds (the connector's time of the write, so a
new request with the same value can be told from the one already applied).

LongPoll is a mixin of MuranoHTTP: it uses its connections (_writer,
_watcher), clock, watch list, _req(), on_update and _update_error().
"""

from uedge.transport.http_client import HTTPError, TooLarge
from uedge.transport.http_form import parse_form, quote_plus, unquote_plus
from uedge.transport.link import STATE_READ, AuthError, reason_of

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# how far (s) the estimate of the server's clock may be off (the offset is
# learnt from /timestamp's whole seconds, plus a round trip)
CLOCK_MARGIN_S = 0.7


def parse_http_date(text):
    """'Tue, 01 Dec 2026 10:33:31 GMT' (or epoch seconds) -> epoch seconds, else None."""
    if not text:
        return None
    t = text.strip()
    if t.isdigit():
        return int(t)
    try:
        parts = t.replace(",", " ").split()
        if len(parts) >= 5 and parts[1].isdigit():  # Day, DD Mon YYYY HH:MM:SS GMT
            d, mon, y, hms = int(parts[1]), parts[2], int(parts[3]), parts[4]
        else:  # asctime: Day Mon DD HH:MM:SS YYYY
            d, mon, y, hms = int(parts[2]), parts[1], int(parts[4]), parts[3]
        m = _MONTHS.index(mon[:3].lower()) + 1
        hh, mi, ss = [int(x) for x in hms.split(":")]
    except (ValueError, IndexError):
        return None
    from uedge.sync.last_edited import _days_from_civil

    return _days_from_civil(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss


class LongPoll:
    def _watch_init(self):
        self._floor_s = 0  # If-Modified-Since of the next long poll
        self._target_s = 0  # the floor moves here once a poll after it has been answered
        self._offset_s = 0.0  # server clock - local clock, seconds
        self._seen = {}  # alias -> (value, second) last delivered
        self._req_floor = 0
        self._req_server_s = 0.0
        self._watch_retry_ms = 0
        self._state_path = None  # a plain read of these aliases is due on the watcher
        self._state_read = False  # the watcher's request in flight is such a read
        self._watch_path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in self.watch)

    def _server_s(self):
        """Estimate of the server's clock (float seconds)."""
        return self.clock.epoch_us() / 1000000.0 + self._offset_s

    def _read_state(self):
        """On connect: learn the server's clock, read the watched resources.
        -> [(alias, value)]; the long poll then starts from that second."""
        try:
            server_s = self.timestamp()
            # whole seconds: the middle of that second is the best estimate
            self._offset_s = server_s + 0.5 - self.clock.epoch_us() / 1000000.0
        except HTTPError as e:
            if not str(e).startswith("/timestamp ->"):
                raise  # no answer at all: the connect fails now, not after a read too
            self._offset_s = 0.0  # the server has no /timestamp: our own clock
            server_s = int(self._server_s())
        try:
            values = self.read(self.watch)
        except TooLarge:
            values = self._read_each(self.watch)
        self._floor_s = server_s - 1
        self._target_s = server_s
        for alias, value in values:
            self._seen[alias] = (value, server_s)
        self._state_path = None
        self._state_read = False
        return values

    def read(self, aliases):
        """GET the current values -> [(alias, value)] (blocking)."""
        path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in aliases)
        st, _h, body = self._writer.roundtrip(self._req("GET", path))
        if st in (401, 403):
            raise AuthError("not authorized (HTTP %d, device %s)" % (st, self.device_id))
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

    def _poll_watcher(self, now):
        if not self.watch:
            return
        w = self._watcher
        if not w.busy:
            if now < self._watch_retry_ms:
                return
            if self._state_path is not None:
                # plain read (no long poll) of the other aliases, see _too_large
                req = self._req("GET", self._state_path)
                self._state_path = None
                self._state_read = True
                wait = self.timeout_ms
            else:
                req = self._req(
                    "GET",
                    self._watch_path,
                    extra=(("Request-Timeout", str(self.long_poll_ms)), ("If-Modified-Since", str(self._floor_s))),
                )
                self._state_read = False
                self._req_floor = self._floor_s
                self._req_server_s = self._server_s()
                wait = self.long_poll_ms + self.timeout_ms
            try:
                w.request(req, wait)
            except OSError as e:
                raise HTTPError("long poll failed: %s" % reason_of(e)) from None
            return
        try:
            r = w.poll()
        except TooLarge as e:
            self._too_large(e, now)
            return
        if r is None:
            return
        status, headers, body = r
        if status == 401:
            raise AuthError("not authorized (HTTP 401, device %s)" % self.device_id)
        state = self._state_read
        self._state_read = False
        if status == 200:
            if state:
                self._deliver(parse_form(body), None, now)
            else:
                lm = parse_http_date(headers.get("last-modified"))
                self._deliver(parse_form(body), lm if lm is not None else int(self._req_server_s), now)
        elif status not in (204, 304):
            self._note("%s got HTTP %d" % ("read" if state else "long poll", status))
            self._watch_retry_ms = now + 1000
        elif not state:
            self._move_floor(now, False)

    def _deliver(self, updates, lm, now):
        """Hand an answer's values to on_update, without those already delivered."""
        fresh = False
        for alias, value in updates:
            if lm is None:  # a plain read: the current state
                self._seen[alias] = (value, int(self._server_s()))
                ts = STATE_READ
            else:
                seen = self._seen.get(alias)
                if (seen is not None and seen[0] == value and seen[1] > self._req_floor
                        and (lm <= seen[1] or len(updates) > 1)):
                    # returned again because the floor is a second back. (Alone
                    # in an answer, its Last-Modified is its own: a later one is
                    # a new write of the same value. With others, Last-Modified
                    # is the newest of them, so the floor decides.)
                    continue
                self._seen[alias] = (value, lm)
                ts = lm * 1000000
            fresh = True
            if self.on_update:
                self.on_update(alias, value, ts)
        if lm is not None:
            if lm > self._target_s:
                self._target_s = lm
            self._move_floor(now, not fresh)

    def _move_floor(self, now, idle):
        """After a long-poll answer: floor to the target second once the poll was
        sent after that second ended, else stay a second back (pausing until then
        when the answer held nothing new, so a repeated answer is not hammered)."""
        t = self._target_s
        if self._req_server_s - CLOCK_MARGIN_S >= t + 1:
            self._floor_s = t
        else:
            self._floor_s = t - 1
            if idle:
                wait_ms = int((t + 1 + CLOCK_MARGIN_S - self._server_s()) * 1000) + 20
                self._watch_retry_ms = now + (wait_ms if 0 < wait_ms < 3000 else 100)

    def _too_large(self, e, now):
        """The watcher's answer was larger than the device's limit (thrown away).

        It is reported under the alias the body starts with. The next long
        poll asks from after the current second (the oversized value would be
        offered again otherwise), and a plain read of the other aliases first
        picks up what may have been waiting behind the oversized value.
        """
        i = e.head.find(b"=")
        alias = unquote_plus(e.head[:i]) if i > 0 else self.watch[0]
        self._update_error(alias, "update of %d bytes exceeds the device's limit of %d" % (e.size, e.limit))
        if self._state_read:
            self._state_read = False
            return
        self._floor_s = self._target_s = int(self._server_s()) + 1
        others = [a for a in self.watch if a != alias]
        if others:
            self._state_path = "/onep:v1/stack/alias?" + "&".join(quote_plus(a) for a in others)
