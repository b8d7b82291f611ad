"""The TLS reserve (uedge.transport.net.tls_reserve): on MicroPython one block
is held back for the next handshake, given up right before it and taken
again when it fails or once every TLS socket opened meanwhile is closed."""

import sys

from ptest import raises
from uedge.transport import net

MPY = sys.implementation.name == "micropython"
SIZE = 4096


class _Wrapped:
    def __init__(self, raw):
        self.raw = raw
        self.closed = False

    def close(self):
        self.closed = True


class _Raw:
    def close(self):
        pass


class _Ctx:
    """An SSLContext with ssl's interface that records the reserve at each handshake."""

    seen = []
    fail = False

    def __init__(self, proto):
        self.verify_mode = None
        self.check_hostname = True

    def wrap_socket(self, sock, server_hostname=None):
        _Ctx.seen.append(net.tls_reserved())
        if _Ctx.fail:
            raise OSError(12, "ENOMEM")
        return _Wrapped(sock)


class _TlsModule:
    SSLContext = _Ctx
    PROTOCOL_TLS_CLIENT = 16
    CERT_REQUIRED = 2
    CERT_NONE = 0


def _setup():
    _Ctx.seen = []
    _Ctx.fail = False
    net.set_tls(_TlsModule)


def _teardown():
    net.set_tls(None)
    net.tls_reserve(0)


def test_the_reserve_is_held_only_on_micropython():
    try:
        held = net.tls_reserve(SIZE)
        assert held == MPY
        assert net.tls_reserved() == (SIZE if MPY else 0)
        net.tls_reserve(0)
        assert net.tls_reserved() == 0
    finally:
        _teardown()


def test_given_up_for_the_handshake_and_taken_again_when_its_socket_closes():
    _setup()
    try:
        net.tls_reserve(SIZE)
        s = net._wrap_tls(_Raw(), "localhost", {"verify": False})
        assert _Ctx.seen == [0]  # the handshake ran without the block held
        assert net.tls_reserved() == 0  # the session uses its room
        net.close_socket(s)
        assert s.closed
        assert net.tls_reserved() == (SIZE if MPY else 0)
    finally:
        _teardown()


def test_taken_again_only_once_every_tls_socket_is_closed():
    _setup()
    try:
        net.tls_reserve(SIZE)
        a = net._wrap_tls(_Raw(), "localhost", {"verify": False})
        b = net._wrap_tls(_Raw(), "localhost", {"verify": False})
        assert _Ctx.seen == [0, 0]
        net.close_socket(_Raw())  # a plain socket closing does not count
        net.close_socket(a)
        assert net.tls_reserved() == 0
        net.close_socket(b)
        assert net.tls_reserved() == (SIZE if MPY else 0)
    finally:
        _teardown()


def test_a_failed_handshake_gives_its_heap_back_to_the_reserve():
    _setup()
    try:
        net.tls_reserve(SIZE)
        _Ctx.fail = True
        # on MicroPython mbedTLS's ENOMEM is a MemoryError (the out-of-memory handling applies)
        raises(MemoryError if MPY else OSError, net._wrap_tls, _Raw(), "localhost", {"verify": False})
        assert _Ctx.seen == [0]
        assert net.tls_reserved() == (SIZE if MPY else 0)
        _Ctx.fail = False  # and the next handshake gets it again
        s = net._wrap_tls(_Raw(), "localhost", {"verify": False})
        assert _Ctx.seen == [0, 0]
        net.close_socket(s)
        assert net.tls_reserved() == (SIZE if MPY else 0)
    finally:
        _teardown()
