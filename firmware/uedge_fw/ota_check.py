"""An OTA update check of the board (uedge_fw.app.App.check_ota, every
ota.check_s) and the updater it makes. Loaded for a check, or at start when
an update was ever installed, and released after it."""

from uedge.compat import release
from uedge_fw.app import log
from uedge_fw.version import VERSION


def new_updater(app):
    from uedge.ota import updater

    o = app.settings.get("ota") or {}
    b = app.board
    return updater.Updater("", o.get("name") or getattr(b, "BUNDLE_NAME", "uedge-" + b.NAME), VERSION,
                           confirm_timeout_s=o.get("confirm_s", 300), log=log, tick=app.wdt.feed)


def check(app, now):
    """-> the version switched to (the board then restarts), else None."""
    app.next_ota_ms = now + app.ota_check_ms
    app.feed(now)
    try:
        u = app.updater or new_updater(app)
        v = u.update(app.edge.transport, lambda v: app.led.set("ota", now))
        app.keep_updater(u)
        del u
    finally:
        # the content listing and download code, loaded for the check
        release("uedge.transport.mqtt_content")
        release("uedge.transport.http_content")
        app.feed(app.clock.now_ms())
    return v
