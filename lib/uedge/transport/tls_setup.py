"""What a TLS connection needs besides its handshake (uedge.transport.net
loads this module for each connect and, on a board, releases it before the
handshake): the client context with its certificates."""

from uedge.compat import MICROPYTHON


def _read_file(path):
    with open(path, "rb") as f:
        return f.read()


def context(p, ssl=None, error=ValueError):
    """The client TLS context for ssl_params p: verification (CA), client
    certificate. ssl: the TLS module (default ssl); error: the exception class
    for parameters that cannot work."""
    if ssl is None:
        import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    verify = p.get("verify", True)
    if MICROPYTHON:
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    else:
        ctx.check_hostname = bool(verify)
        ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    cadata = p.get("cadata")
    if cadata is None and p.get("ca"):
        cadata = _read_file(p["ca"])
    if verify:
        if cadata is None:
            if MICROPYTHON:
                raise error("TLS needs a CA certificate (ssl_params ca= or cadata=)")
            ctx.load_default_certs()
        elif MICROPYTHON:
            ctx.load_verify_locations(cadata=pem_to_der(cadata))
        else:
            if isinstance(cadata, (bytes, bytearray)) and cadata[:5] == b"-----":
                cadata = cadata.decode()
            ctx.load_verify_locations(cadata=cadata)
    if p.get("cert"):
        if not p.get("key"):
            raise error("client certificate given without its key")
        if MICROPYTHON:
            ctx.load_cert_chain(pem_to_der(_read_file(p["cert"])), pem_to_der(_read_file(p["key"])))
        else:
            ctx.load_cert_chain(p["cert"], p["key"])
    return ctx


def pem_to_der(data):
    """First PEM block of data as DER (MicroPython's mbedtls binding takes DER)."""
    import binascii

    if data[:5] != b"-----":
        return data
    body = []
    inside = False
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN"):
            inside = True
        elif line.startswith(b"-----END"):
            break
        elif inside and line:
            body.append(line)
    return binascii.a2b_base64(b"".join(body))
