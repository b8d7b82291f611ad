"""TLS for the gateway daemon on CPython's C modules (_ssl, _socket) directly.

The ssl and socket packages wrap the same C objects in Python classes and
build ~30 enum classes at import (socket.py also loads selectors and array):
~0.7 MB of the daemon's peak RSS (~1.4 MB in a bare interpreter), for nothing
the transports use. This
module gives uedge.transport.net what it takes from ssl (see net.set_tls):
SSLContext with check_hostname, verify_mode, load_verify_locations,
load_default_certs, load_cert_chain and wrap_socket, and the constants.

The security settings are the C context's own, the ones ssl.SSLContext has
too (it is a thin subclass of the same _ssl._SSLContext): PROTOCOL_TLS_CLIENT
verifies the certificate chain and the host name (CERT_REQUIRED,
check_hostname) with TLS 1.2 at least; wrap_socket sends SNI and checks the
name against server_hostname, and runs the handshake within the socket's
timeout. A failed verification raises the same ssl.SSLCertVerificationError
(the class lives in _ssl).
"""

import _socket
import _ssl
import select

PROTOCOL_TLS_CLIENT = _ssl.PROTOCOL_TLS_CLIENT
CERT_NONE = _ssl.CERT_NONE
CERT_REQUIRED = _ssl.CERT_REQUIRED
SSLError = _ssl.SSLError
_EOF = _ssl.SSLEOFError
_WANT_READ = _ssl.SSLWantReadError


class TLSSocket(_socket.socket):
    """A connected TCP socket with its TLS session: the socket calls the
    transports make (recv_into, recv, send, sendall, pending) go through TLS;
    settimeout, fileno and close are the socket's.

    Non-blocking, recv_into returns None when there is nothing to read (the
    MQTT and HTTP clients take None as "would block", as from MicroPython's
    sockets): it asks the TLS layer and then the socket (poll) first, because a
    TLS read that finds nothing raises SSLWantReadError, whose message
    OpenSSL and _ssl format each time, several times the cost of the poll.
    `partial` is True while a TLS record has arrived only in part (the last
    read consumed bytes without completing one)."""

    __slots__ = ("_tls", "_poll", "_nb", "partial", "__weakref__")  # the C session holds a weak reference

    def settimeout(self, t):
        _socket.socket.settimeout(self, t)
        self._nb = t == 0

    def recv_into(self, buf, nbytes=0, flags=0):
        tls = self._tls
        if self._nb and not tls.pending() and not self._poll(0):
            return None
        try:
            n = tls.read(nbytes or len(buf), buf)
        except _WANT_READ:
            if not self._nb:
                raise
            self.partial = True  # a record's first bytes, or one without data (a session ticket)
            return None
        except _EOF:
            return 0  # closed without close_notify: an end of stream, as ssl treats it
        self.partial = False
        return n

    def recv(self, n, flags=0):
        try:
            return self._tls.read(n)
        except _EOF:
            return b""

    def send(self, data, flags=0):
        return self._tls.write(data)

    def sendall(self, data, flags=0):
        view = memoryview(data)
        n = 0
        while n < len(view):
            n += self._tls.write(view[n:])

    def pending(self):
        """Decrypted bytes held in the TLS layer (the socket may not be readable)."""
        return self._tls.pending()

    @property
    def server_hostname(self):
        """The name sent as SNI and checked against the certificate."""
        return self._tls.server_hostname


class SSLContext(_ssl._SSLContext):
    def load_default_certs(self):
        self.set_default_verify_paths()

    def wrap_socket(self, sock, server_hostname=None):
        """sock (connected, blocking or with a timeout) -> a TLSSocket after the handshake."""
        if isinstance(server_hostname, (bytes, bytearray)):
            server_hostname = server_hostname.decode("ascii")
        elif server_hostname is not None and not server_hostname.isascii():
            server_hostname = server_hostname.encode("idna").decode("ascii")  # as ssl does
        timeout = sock.gettimeout()
        s = TLSSocket(sock.family, sock.type, sock.proto, sock.detach())
        s.partial = False
        p = select.poll()
        p.register(s, select.POLLIN)
        s._poll = p.poll
        try:
            s.settimeout(timeout)
            s._tls = self._wrap_socket(s, False, server_hostname)
            s._tls.do_handshake()
        except BaseException:
            s.close()
            raise
        return s


def install():
    """Make uedge.transport.net open TLS connections with this module."""
    import sys

    from uedge.transport import net

    net.set_tls(sys.modules[__name__])
