"""Dashboard sessions and pages: the login (admin token or a one-time link) that
sets an HttpOnly, SameSite=Strict cookie, Host/Origin checks, the static files."""

import hmac
import os
import secrets
import time
import urllib.parse

from .dashboard_data import html_escape
from .http_server import HTTPError, Response

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboard_static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
COOKIE = "uedge_dash"
SESSION_LIFETIME_S = 12 * 3600
LOGIN_KEY_LIFETIME_S = 15 * 60
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _host_name(host_header):
    """'127.0.0.1:8090' -> '127.0.0.1', '[::1]:8090' -> '::1'."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if ":" in h else h


class DashboardAuth:
    """Who may see the dashboard; the pages that are not JSON."""

    def __init__(self, token=None, info=None, admin_host="127.0.0.1"):
        self.token = token
        self.info = info if info is not None else {}
        self.admin_host = admin_host
        self.sessions = {}  # session id -> expiry (monotonic s)
        self.login_keys = {}  # one-time key -> expiry

    # -- request checks ------------------------------------------------------
    def check_request(self, req):
        """Host must name this admin listener; an Origin must be this origin."""
        host = req.header("host")
        if host is not None and self.admin_host in LOOPBACK_NAMES + ("",):
            if _host_name(host) not in LOOPBACK_NAMES and not _host_name(host).startswith("127."):
                raise HTTPError(403, "unexpected Host header")
        origin = req.header("origin")
        if origin is not None and host is not None:
            if origin.lower() != "http://" + host.strip().lower():
                raise HTTPError(403, "cross-origin request refused")

    def _session(self, req):
        cookies = req.header("cookie", "")
        for part in cookies.split(";"):
            k, _, v = part.strip().partition("=")
            if k == COOKIE and v:
                exp = self.sessions.get(v)
                if exp is not None and exp > time.monotonic():
                    return v
                self.sessions.pop(v, None)
        return None

    def authorized(self, req):
        """Bearer token, or the session cookie (writes must also carry Origin)."""
        if self.token is None:
            return True
        auth = req.header("authorization", "")
        if hmac.compare_digest(auth.encode(), ("Bearer " + self.token).encode()):
            return True
        if self._session(req) is None:
            return False
        if req.method not in ("GET", "HEAD") and req.header("origin") is None:
            return False
        return True

    def bearer(self, req):
        if self.token is None:
            return True
        return hmac.compare_digest(req.header("authorization", "").encode(),
                                   ("Bearer " + self.token).encode())

    def _new_session(self):
        now = time.monotonic()
        for sid in [s for s, exp in self.sessions.items() if exp <= now]:
            del self.sessions[sid]
        sid = secrets.token_urlsafe(32)
        self.sessions[sid] = now + SESSION_LIFETIME_S
        return sid

    def _login_ok(self, sid):
        return Response(303, "", headers={
            "Location": "/dashboard/",
            "Set-Cookie": "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d"
            % (COOKIE, sid, SESSION_LIFETIME_S),
            "Cache-Control": "no-store"})

    def new_login_key(self):
        now = time.monotonic()
        for k in [k for k, exp in self.login_keys.items() if exp <= now]:
            del self.login_keys[k]
        key = secrets.token_urlsafe(24)
        self.login_keys[key] = now + LOGIN_KEY_LIFETIME_S
        return key

    # -- pages ------------------------------------------------------------------
    async def page(self, req):
        path = req.raw_path
        if path == "/":
            return Response(303, "", headers={"Location": "/dashboard/"})
        if path == "/dashboard":
            return Response(303, "", headers={"Location": "/dashboard/"})
        if path.startswith("/dashboard/static/") and req.method in ("GET", "HEAD"):
            return self.static(path[len("/dashboard/static/"):])
        if path == "/dashboard/login":
            return await self.login(req)
        if path == "/dashboard/logout" and req.method == "POST":
            sid = self._session(req)
            if sid:
                self.sessions.pop(sid, None)
            return Response(303, "", headers={
                "Location": "/dashboard/login",
                "Set-Cookie": "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" % COOKIE})
        if path == "/dashboard/" and req.method in ("GET", "HEAD"):
            if not self.authorized(req):
                return Response(303, "", headers={"Location": "/dashboard/login"})
            return self.static("index.html")
        raise HTTPError(404, "no such page")

    def static(self, name):
        if "/" in name or name.startswith(".") or os.path.splitext(name)[1] not in STATIC_TYPES:
            raise HTTPError(404, "no such file")
        path = os.path.join(STATIC_DIR, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            raise HTTPError(404, "no such file") from None
        return Response(200, data, STATIC_TYPES[os.path.splitext(name)[1]], {
            "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache"})

    async def login(self, req):
        if self.token is None:
            return Response(303, "", headers={"Location": "/dashboard/"})
        message = ""
        status = 200
        if req.method == "GET":
            key = req.arg("key")
            if key:
                exp = self.login_keys.pop(key, None)
                if exp is not None and exp > time.monotonic():
                    return self._login_ok(self._new_session())
                message = "This login link was used already or has expired."
                status = 401
        elif req.method == "POST":
            form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
            given = (form.get("token") or [""])[0].strip()
            if given and hmac.compare_digest(given.encode(), self.token.encode()):
                return self._login_ok(self._new_session())
            message = "Wrong admin token."
            status = 401
        else:
            raise HTTPError(405, "GET or POST")
        with open(os.path.join(STATIC_DIR, "login.html"), encoding="utf-8") as f:
            html = f.read()
        where = self.info.get("admin_token_file") or "DATA/admin.token"
        html = html.replace("{{token_file}}", html_escape(where)).replace("{{message}}", html_escape(message))
        return Response(status, html, STATIC_TYPES[".html"], {
            "Content-Security-Policy": CSP, "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
