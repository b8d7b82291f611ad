"""A device link's construction (DeviceLink.__init__ for MuranoMQTT and
MuranoHTTP): the argument checks, the TLS parameters, the stored credential
and the backoff. It runs once; on a board this module is released after it
(uedge.compat.release)."""

from uedge.compat import Clock, release


def check(error, kind, auth, device_id, cert, key, password):
    """The arguments a link of kind ("mqtt" or "http") cannot work with -> error
    (link.MuranoError)."""
    auths = ("token", "password", "cert") if kind == "mqtt" else ("token", "cert")
    if auth not in auths:
        if kind == "mqtt":
            raise error('auth must be "token", "password" or "cert", got %r' % (auth,))
        raise error('HTTP auth must be "token" or "cert", got %r' % (auth,))
    if auth == "cert" and not (cert and key):
        raise error("auth \"cert\" needs cert= and key= (client certificate and key)")
    if not device_id and auth != "cert":
        raise error("device_id is required for %s auth" % auth)
    if auth == "password" and password and len(password) < 20:
        raise error("password auth needs a password of at least 20 characters")


def setup(link, error, kind, host, port, device_id, auth, credentials_path, tls, ca, cert, key,
          server_hostname, clock, backoff_base_ms, backoff_cap_ms, auth_backoff_ms,
          timeout_ms, log, password=None):
    """Check the arguments (error: the exception class) and set link up ->
    (backoff_base_ms, backoff_cap_ms) for its Backoff."""
    check(error, kind, auth, device_id, cert, key, password)
    link.host = host
    link.port = port
    link.device_id = device_id
    link.auth = auth
    link.credentials_path = credentials_path
    link.tls = tls
    link.ca = ca
    link.timeout_ms = timeout_ms
    link.auth_backoff_ms = auth_backoff_ms
    p = {}
    if ca:
        p["ca"] = ca
    if server_hostname:
        p["server_hostname"] = server_hostname
    if cert:
        p["cert"], p["key"] = cert, key
    link._ssl_params = p
    link._secret = None
    if credentials_path:
        from uedge.secret import read_secret

        link._secret = read_secret(credentials_path)
        release("uedge.secret")
    link.clock = clock or Clock()
    link.on_update = None
    link.on_ack = None
    link.on_state = None
    link.attempts = 0
    link.memory_failures = 0  # connect attempts in a row that found no heap (MemoryError)
    link.last_error = None
    link._log = log
    link._want = True
    link._up_since = None  # when the current connection came up
    link.stable_ms = 60000  # up this long: the backoff starts from the base again
    return backoff_base_ms, backoff_cap_ms
