"""What the MQTT and HTTP device links (murano_mqtt, murano_http) share.

DeviceLink keeps the stored credential (persisted 0600 with
uedge.secret.write_secret, never logged), the on_update / on_ack / on_state
callbacks, the TLS parameters and the reconnect backoff. Subclasses provide
connect() and their own transport.
"""

import gc

from uedge.compat import MICROPYTHON, release

if MICROPYTHON:
    try:
        import random
    except ImportError:  # pragma: no cover
        import urandom as random
    _random = random.random
else:
    import os

    def _random():
        """A float in [0, 1) (the random module costs a gateway about 0.15 MB)."""
        return int.from_bytes(os.urandom(4), "big") / 4294967296.0


# Largest update (config_io, data_out, ...) a link accepts by default. A Murano
# resource holds up to 1 MiB, so a gateway takes that plus protocol headroom;
# a board keeps a small receive buffer. Larger updates are skipped and reported
# through on_update_error, the link stays up.
DEFAULT_MAX_UPDATE = 65536 if MICROPYTHON else 1048576 + 16384


# ts_us given to on_update for values read at connect (the current state, not
# a change notification): a consumer may skip acting on a value it already had.
STATE_READ = 0
# the resources a device watches for updates from the connector
WATCHED = ("config_io", "data_out", "config_applications")


class UpdateError:
    """Given to on_update instead of the value when an update could not be
    taken in (e.g. larger than the device's limit); str() is the reason."""

    def __init__(self, message):
        self.message = message

    def __str__(self):
        return self.message


class MuranoError(Exception):
    pass


class AuthError(MuranoError):
    """The connector refused the credentials ("not authorized")."""


# Longest wait after a failure that is not a refusal (timeout, unreachable,
# connection lost): the link is back within this of the peer's return, however
# long the outage. Explicit refusals (not authorized) back off up to the cap.
RETRY_CAP_MS = 8000


class Backoff:
    """Exponential backoff with jitter, capped: base, 2*base, 4*base ... cap.

    Each delay is drawn from [d/2, d] so a fleet restarted together spreads out.
    failed(now, cap_ms=...) caps one delay lower (failures that are no refusal).
    """

    def __init__(self, base_ms=1000, cap_ms=300000, rand=None):
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.failures = 0
        self.next_ms = 0
        self._rand = rand or _random

    def ready(self, now_ms):
        return now_ms >= self.next_ms

    def failed(self, now_ms, floor_ms=0, cap_ms=None):
        """Record a failure at now_ms; returns the delay until the next attempt."""
        cap = self.cap_ms if cap_ms is None or cap_ms > self.cap_ms else cap_ms
        d = self.base_ms
        for _ in range(self.failures):
            d *= 2
            if d >= cap:
                d = cap
                break
        if d > cap:
            d = cap
        self.failures += 1
        d = d // 2 + int(self._rand() * (d - d // 2))
        if d < floor_ms:
            d = floor_ms
        self.next_ms = now_ms + d
        return d

    def reset(self):
        self.failures = 0
        self.next_ms = 0


def reason_of(e):
    s = str(e)
    if not s and e.args:
        s = repr(e.args[0])
    return "%s: %s" % (e.__class__.__name__, s) if s else e.__class__.__name__


class DeviceLink:
    # gate() -> False while the network is down (a board's uedge_fw.net): poll()
    # then does nothing, as a connect attempt could only fail (and may block
    # for the socket timeout); the edge loop keeps sampling and queueing
    gate = None

    def __init__(self, *args, **kw):
        """kind ("mqtt" or "http"), host, port, device_id, auth,
        credentials_path, tls, ca, cert, key, server_hostname, clock,
        backoff_base_ms, backoff_cap_ms, auth_backoff_ms, timeout_ms, log
        [, password=]: checked and set up by uedge.transport.link_setup
        (loaded for it; MuranoError for arguments that cannot work)."""
        from uedge.transport import link_setup

        try:
            base, cap = link_setup.setup(self, MuranoError, *args, **kw)
        finally:
            link_setup = None  # noqa: F841
            release("uedge.transport.link_setup")
        self.backoff = Backoff(base, cap)
        self.retry_cap_ms = RETRY_CAP_MS

    @property
    def ssl_params(self):
        """TLS settings for another connection to the same connector (ca, SNI, client cert)."""
        return self._ssl_params

    @property
    def provisioned(self):
        return self.auth == "cert" or bool(self._secret)

    def _note(self, msg):
        if self._log:
            self._log(msg)

    def _update_error(self, alias, msg):
        self._note("%s: %s" % (alias, msg))
        if self.on_update:
            self.on_update(alias, UpdateError(msg), None)

    def _state(self, up, reason):
        if self.on_state:
            self.on_state(up, reason)

    # -- credentials

    def set_credentials(self, secret, persist=False):
        """Use a token/password obtained elsewhere (e.g. an edged INI file)."""
        self._secret = secret or None
        if persist and secret and self.credentials_path:
            self._save(secret)

    @property
    def credential(self):
        """The stored token/password (for the owner to persist; never log it)."""
        return self._secret

    def forget_credentials(self):
        """Drop the stored token/password (the next connect provisions again)."""
        self._secret = None
        if self.credentials_path:
            try:
                import os

                os.remove(self.credentials_path)
            except OSError:
                pass

    def _provisioned_with(self, secret):
        """Keep the secret provisioning returned, and save it (0600) if there is a path."""
        self._secret = secret
        if self.credentials_path:
            self._save(secret)

    def _save(self, secret):
        from uedge.secret import write_secret

        try:
            write_secret(self.credentials_path, secret)
        finally:
            release("uedge.secret")

    # -- connection state

    def _up(self):
        """A connect() succeeded. The backoff is not reset yet: a server that
        accepts and then drops the connection at once must not get a reconnect
        every second; it is once the link has stayed up stable_ms (_stable)."""
        self._up_since = -1  # stamped by the first _stable(now), in the poll's time base
        self.last_error = None
        self.memory_failures = 0
        self._state(True, "connected")

    def _stable(self, now):
        """Called while connected: reset the backoff once the link proved stable."""
        t = self._up_since
        if t == -1:
            self._up_since = now
        elif t is not None and now - t >= self.stable_ms:
            self._up_since = None
            self.backoff.reset()

    def retry_after(self, now, refused=False):
        """Schedule the next attempt after a failure -> the delay (ms).

        refused: the connector refused the credentials (CONNACK not authorized,
        HTTP 401/403): back off up to the cap, at least auth_backoff_ms. Any
        other failure (timeout, unreachable, connection lost) waits at most
        retry_cap_ms, so the link is back soon after the peer is."""
        if refused:
            return self.backoff.failed(now, self.auth_backoff_ms)
        return self.backoff.failed(now, 0, self.retry_cap_ms)

    def _reconnect(self, now):
        """Try connect() if wanted and the backoff allows; failures schedule the next try."""
        if not self._want or not self.backoff.ready(now):
            return
        try:
            self.connect()
        except AuthError as e:
            d = self.retry_after(now, True)
            self._note("%s; retry in %d ms" % (e, d))
            self._state(False, "not authorized")
        except MemoryError:
            # a board short of heap (a receive buffer, a TLS session): report and
            # back off like any failed connect, never retry in a tight loop
            gc.collect()
            d = self.backoff.failed(now)
            self.memory_failures += 1
            self.last_error = "out of memory"
            self._note("connect failed: out of memory; retry in %d ms" % d)
            self._state(False, self.last_error)
        except (MuranoError, ValueError) as e:
            # ValueError/UnicodeError: e.g. a host name that cannot be encoded
            d = self.retry_after(now)
            self.last_error = str(e)
            self._note("%s; retry in %d ms" % (e, d))
            self._state(False, str(e))
