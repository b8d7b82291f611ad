"""Sockets for the transports: TCP (+TLS) connect, non-blocking setup, the send loop.

Shared by the MQTT client and the HTTP client; the only place that knows how
CPython and MicroPython differ in socket and TLS handling.
"""

import gc
import select

try:
    import _socket as socket  # CPython: the C module (socket.py adds enums, selectors)
except ImportError:
    import socket

from uedge.compat import MICROPYTHON, release

try:
    import errno

    _EAGAIN = (errno.EAGAIN, getattr(errno, "EWOULDBLOCK", errno.EAGAIN), errno.EINPROGRESS)
    _ENOMEM = errno.ENOMEM
except ImportError:  # pragma: no cover
    _EAGAIN = (11, 115)
    _ENOMEM = 12


# A board's watchdog is fed by its main loop; the steps that block (TCP connect,
# TLS handshake, waiting for CONNACK / SUBACK / a provisioning reply, a send
# waiting for room) call tick() between slices instead, so a slow or silent
# connector can never starve it. With a tick set (the firmware sets its
# WDT.feed), each blocking socket call is also bounded by step_ms.
_TICK = [None, 2000]
# the TLS module: ssl unless a host sets another with ssl's interface (set_tls)
_TLS = [None]


# The TLS reserve (MicroPython): one block held back for the next handshake,
# placed at the top of the largest free run (_take_high).
# mbedTLS takes its record buffers (16 KB in, 4 KB out) and the certificate
# chain from the GC heap; in a board heap fragmented by loading the config,
# a handshake can fail with ENOMEM although much more is free in small
# pieces. [block, size, open TLS sockets]: the block is given up (dropped and
# collected) right before a handshake and taken again once every TLS socket
# opened meanwhile is closed through close_socket().
_RESERVE = [None, 0, []]


def tls_reserve(size):
    """Hold size bytes (one block) for the next TLS handshake; 0 stops it.
    Only on MicroPython (CPython's OpenSSL does not use this heap).
    -> True if the block is held now."""
    if not MICROPYTHON:
        return False
    _RESERVE[0] = None
    _RESERVE[1] = max(0, int(size))
    return _refill()


def tls_reserved():
    """Bytes held back for the next TLS handshake now (0 when given up or off)."""
    b = _RESERVE[0]
    return 0 if b is None else len(b)


def _refill():
    """Take the reserve again when no TLS socket is open: the full size, else
    the largest block down to half of it that is free (what was allocated
    during a session may split the block it freed; the in-record buffer, the
    largest piece of a handshake, still fits)."""
    r = _RESERVE
    if r[0] is None and r[1] and not r[2]:
        gc.collect()
        n = r[1]
        while n >= r[1] // 2:
            try:
                r[0] = _take_high(n)
                break
            except MemoryError:
                n -= r[1] // 8
    return r[0] is not None


def _largest(at_least):
    """The largest block that can be allocated now (64-byte steps), or 0 when
    none of at_least bytes can."""
    lo, hi = 0, gc.mem_free()
    if hi < at_least:
        return 0
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            b = bytearray(mid)
        except MemoryError:
            hi = mid
            continue
        b = None  # noqa: F841  (given back by the collection)
        gc.collect()
        lo = mid
    return lo if lo >= at_least else 0


def _take_high(n):
    """n bytes at the top end of the largest free run, a filler taking the
    run below it for the moment of the allocation (first fit), dropped after.
    Allocations go to the lowest free run that fits, so the block is the last
    place the edge loop's objects reach: the record buffers of the next
    handshake find it whole, after a session too. (Taken at the start of the
    run instead, the reserve ends up below the loop's data, which spreads
    into what a handshake leaves of it; the reconnect after a session then
    finds a fraction of the block: 14 KB more heap for the footprint
    workload's reconnect.)"""
    big = _largest(n)
    if not big:
        raise MemoryError("no block of %d bytes for the TLS reserve" % n)
    filler = None
    if big - n > 256:
        try:
            filler = bytearray(big - n - 64)
        except MemoryError:
            filler = None
    try:
        return bytearray(n)
    finally:
        filler = None  # noqa: F841


def _release():
    if _RESERVE[0] is not None:
        _RESERVE[0] = None  # dropped without a local copy: nothing pins it
        gc.collect()


def set_tick(fn, step_ms=2000):
    """fn() is called during long blocking steps; step_ms bounds one blocking socket call."""
    _TICK[0] = fn
    _TICK[1] = max(100, int(step_ms))


def set_tls(module):
    """TLS connections use module (SSLContext, PROTOCOL_TLS_CLIENT, CERT_REQUIRED,
    CERT_NONE as in ssl) instead of ssl; None: ssl again."""
    _TLS[0] = module


def tick():
    f = _TICK[0]
    if f is not None:
        f()


def step_s(timeout_s):
    """The timeout of one blocking socket call: timeout_s, capped by step_ms when a tick is set."""
    if _TICK[0] is None:
        return timeout_s
    return min(timeout_s, _TICK[1] / 1000)


class MQTTException(Exception):
    """A connection failed (umqtt.simple's name; the HTTP client raises it too)."""


class MQTTAuthError(MQTTException):
    """CONNACK return code 4 or 5: the credentials were refused."""

def is_wouldblock(e):
    if e.__class__.__name__ in ("SSLWantReadError", "SSLWantWriteError", "BlockingIOError"):
        return True
    return bool(e.args) and e.args[0] in _EAGAIN


def open_connection(host, port, use_ssl=False, ssl_params=None, timeout_s=10, nodelay=True):
    """TCP (+TLS) connection to host:port, blocking with timeout_s until established.

    ssl_params: ca (path) or cadata (PEM/DER bytes); cert + key (paths) for a
    client certificate; server_hostname (SNI + hostname check, default host);
    verify (default True; False only for debugging).
    """
    tick()
    ai = socket.getaddrinfo(_ascii(host), port, 0, socket.SOCK_STREAM)
    if not ai:
        raise MQTTException("cannot resolve %s" % host)
    addr = ai[0][-1]
    sock = socket.socket(ai[0][0], socket.SOCK_STREAM)
    try:
        sock.settimeout(step_s(timeout_s))
        sock.connect(addr)
        tick()
        if nodelay:
            try:
                sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY: one packet per write
            except Exception:
                pass
        if use_ssl:
            try:
                sock = _wrap_tls(sock, host, ssl_params or {})
                tick()
            except ValueError as e:
                if not MICROPYTHON:
                    raise
                # mbedtls reports verification failures as multi-line ValueErrors
                raise MQTTException("TLS handshake with %s failed: %s" % (host, " ".join(str(e).split()))) from None
            if not MICROPYTHON:
                sock.settimeout(timeout_s)
    except Exception:
        close_socket(sock)
        raise
    return sock


def close_socket(sock):
    """Close sock (None is fine), ignoring errors; returns None: `s.sock = close_socket(s.sock)`.
    The last TLS socket closed takes the TLS reserve again (tls_reserve)."""
    if sock is not None:
        try:
            sock.close()
        except Exception:
            pass
        held = _RESERVE[2]
        for i in range(len(held)):
            if held[i] is sock:
                held.pop(i)
                _refill()
                break
    return None


def nonblocking_io(sock):
    """Make sock non-blocking -> (readinto, write) functions for this runtime."""
    if MICROPYTHON:
        sock.setblocking(False)
        return sock.readinto, sock.write
    sock.settimeout(0)
    return sock.recv_into, sock.send


def send_all(sock, write_fn, data, length, clock, timeout_ms, fail):
    """Write data[:length] (all of it when length < 0) to a non-blocking socket.

    write_fn comes from nonblocking_io(). Waits for room up to timeout_ms
    (measured on clock); a closed peer or the timeout raises fail(message),
    other socket errors propagate. On MicroPython the offset form of write()
    sends without making a slice object per call.
    """
    total = len(data) if length < 0 else length
    off = 0
    deadline = 0
    poller = None
    while off < total:
        try:
            if MICROPYTHON:
                n = write_fn(data, off, total - off)
            else:
                n = write_fn(memoryview(data)[off:total])
        except OSError as e:
            if not is_wouldblock(e):
                raise
            n = None
        if n:
            off += n
            continue
        if n == 0 and not MICROPYTHON:
            raise fail("connection closed while sending")
        now = clock.now_ms()
        if not deadline:
            deadline = now + timeout_ms
        elif now >= deadline:
            raise fail("send timed out after %d ms" % timeout_ms)
        if poller is None:
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
        poller.poll(20)
        tick()


def _ascii(name):
    """CPython: an ASCII host name as bytes, which getaddrinfo and ssl take as
    they are; as text they go through the IDNA codec (stringprep, unicodedata:
    about 0.3 MB of a gateway's memory). Other names, and MicroPython: as given."""
    if MICROPYTHON or not isinstance(name, str):
        return name
    try:
        return name.encode("ascii")
    except UnicodeError:
        return name


def _wrap_tls(sock, host, p):
    """sock wrapped in TLS, the handshake done. On MicroPython the context
    (its CA and client certificate parsed) is made first, outside the TLS
    reserve, then the handshake runs in the reserve's block (given up right
    before it), which mbedTLS's record buffers then find whole; the reserve
    is taken again when the handshake fails or once its socket is closed
    (close_socket)."""
    from uedge.transport import tls_setup

    if not MICROPYTHON:
        ctx = tls_setup.context(p, _TLS[0], MQTTException)
        return ctx.wrap_socket(sock, server_hostname=_ascii(p.get("server_hostname", host)))
    try:
        try:
            try:
                ctx = tls_setup.context(p, _TLS[0], MQTTException)
            except MemoryError:
                _release()  # no room beside the reserve: the context takes from it
                ctx = tls_setup.context(p, _TLS[0], MQTTException)
        finally:
            tls_setup = None  # noqa: F841  (its code goes before the handshake)
            release("uedge.transport.tls_setup")
        _release()
        s = ctx.wrap_socket(sock, server_hostname=p.get("server_hostname", host))
    except BaseException as e:
        _refill()  # a failed handshake gives its heap back
        if isinstance(e, OSError) and e.args and e.args[0] == _ENOMEM:
            # mbedTLS found no block for its buffers: the caller's out-of-memory
            # handling applies (a backoff; uedge_fw restarts a board whose heap
            # no longer has room for a reconnect)
            raise MemoryError("no heap for the TLS handshake (ENOMEM)") from None
        raise
    if _RESERVE[1]:
        _RESERVE[2].append(s)
    return s


# ---------------------------------------------------------------- client

