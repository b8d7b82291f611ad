"""Device settings and secrets from the board's filesystem (never from source).

settings.json (written by `make provision`, copied by `make flash`):
  {"device_id": "0001", "host": "xyz.m2.exosite.io", "port": 8883,
   "protocol": "mqtt" | "http", "tls": true, "auth": "token" | "password",
   "ca": "ca.pem", "wifi": {"ssid": "lab"} or [{"ssid": ...}, ...],
   "ntp_host": "pool.ntp.org", "ota": {"check_s": 3600, "confirm_s": 300},
   "outbox_bytes": 65536, "wdt": true, "reconnect_cap_s": 300,
   "timeout_ms": 5000, "keepalive": 60, "ntp_wait_s": 20,
   "max_update": 16384, "batch_items": 16, "batch_bytes": 4096, "max_inflight": 8,
   "tls_reserve": 23552, "gc_threshold": 16384}
max_update: the largest config_io / config_applications / data_out the board
accepts (bytes; sizes the transport's receive buffers).  batch_items and
batch_bytes bound one replay of queued reports, max_inflight the reports
awaiting their acknowledgement: together they bound the heap the loop needs.
tls_reserve: bytes held back for the TLS handshake from the edge loop's start,
once the config_io cache is loaded (uedge_fw.app.reserve_tls,
uedge.transport.net tls_reserve): mbedTLS's two record buffers, 16 KB in and
4 KB out, 21,162 B with their headers, and its handshake state; the context
with its CA is made beside it; 0: none).
gc_threshold: a garbage collection after every gc_threshold bytes allocated
(gc.threshold; 0: only when the heap is full, MicroPython's default). Earlier
collections leave the heap in fewer pieces: the start, with its config_io
load and TLS handshake, then fits in about 4-5 KB less.
secrets.json: {"wifi_password": "...", "password": "..." (password auth)}
The token a token-auth connector hands out is kept in murano.token (0600).
"""

import json

REQUIRED = ("device_id", "host")
DEFAULTS = {
    "port": 0,
    "protocol": "mqtt",
    "tls": True,
    "auth": "token",
    "ca": None,
    "wifi": [],
    "ntp_host": "pool.ntp.org",
    "ntp_wait_s": 20,
    "ota": {},
    "outbox_bytes": 65536,
    "outbox_dir": "outbox",
    "wdt": True,
    "token_path": "murano.token",
    "config_io_path": "config_io.json",
    "config_applications_path": "config_applications.json",
    "keepalive": 60,
    "timeout_ms": 5000,
    "reconnect_cap_s": 300,
    "max_update": 16384,
    "batch_items": 16,
    "batch_bytes": 4096,
    "max_inflight": 8,
    "tls_reserve": 23552,
    "gc_threshold": 16384,
}


class SettingsError(Exception):
    pass


def batch_buffer_bytes(s):
    """The MQTT replay batch buffer (MuranoMQTT batch_buffer): batch_bytes of
    reports plus each entry's JSON around them."""
    return s["batch_bytes"]


def _read(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    try:
        v = json.loads(text)
    except ValueError:
        raise SettingsError("%s is not valid JSON" % path) from None
    if not isinstance(v, dict):
        raise SettingsError("%s must hold a JSON object" % path)
    return v


def load(settings_path="settings.json", secrets_path="secrets.json"):
    raw = _read(settings_path)
    if raw is None:
        raise SettingsError("%s is missing: run make provision and make flash" % settings_path)
    s = dict(DEFAULTS)
    s.update(raw)
    for k in REQUIRED:
        if not isinstance(s.get(k), str) or not s[k]:
            raise SettingsError("%s: %s must be a non-empty string" % (settings_path, k))
    if s["protocol"] not in ("mqtt", "http"):
        raise SettingsError("%s: protocol must be mqtt or http, got %r" % (settings_path, s["protocol"]))
    if not isinstance(s["port"], int):
        raise SettingsError("%s: port must be a number" % settings_path)
    for k in ("max_update", "batch_items", "batch_bytes", "max_inflight"):
        if not isinstance(s[k], int) or s[k] < 1:
            raise SettingsError("%s: %s must be a positive number, got %r" % (settings_path, k, s[k]))
    for k in ("tls_reserve", "gc_threshold"):
        if not isinstance(s[k], int) or s[k] < 0:
            raise SettingsError("%s: %s must be a number >= 0, got %r" % (settings_path, k, s[k]))
    wifi = s["wifi"]
    if isinstance(wifi, dict):
        wifi = [wifi]
    if not isinstance(wifi, list):
        raise SettingsError("%s: wifi must be an object or a list of them" % settings_path)
    s["wifi"] = [w for w in wifi if isinstance(w, dict) and w.get("ssid")]
    secrets = _read(secrets_path) or {}
    s["secrets"] = secrets
    for w in s["wifi"]:
        if "password" not in w:
            key = "wifi_password_" + w["ssid"]
            w["password"] = secrets.get(key, secrets.get("wifi_password", ""))
    return s
