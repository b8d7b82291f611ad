"""Murano content area over MQTT ($content), for uedge.transport.murano_mqtt.

Used only by OTA checks, so it is imported on first use (boards keep it off
the heap until then). The $content reply arrives through MuranoMQTT._on_msg.
"""

from uedge.transport.link import MuranoError, reason_of
from uedge.transport.net import MQTTException


def content_list(link, timeout_ms=None):
    """Ask $content for the list of downloadable items -> [{name,length,mime,url}]."""
    c = link._client
    if c is None or not c.connected:
        raise MuranoError("not connected")
    tmo = link.timeout_ms if timeout_ms is None else timeout_ms
    try:
        if not link._content_subscribed:
            try:
                c.subscribe("$content")
            except MQTTException:
                if not c.connected:
                    raise
            link._content_subscribed = True
        link._content = None
        c.publish(b"$content", b"")
        deadline = link._rt.now_ms() + tmo
        while link._content is None:
            left = deadline - link._rt.now_ms()
            if left <= 0:
                raise MuranoError("no $content reply within %d ms" % tmo)
            c.wait_msg(min(left, 200))
    except (MQTTException, OSError) as e:
        raise MuranoError("content list failed: %s" % reason_of(e)) from None
    return link._content


def content_get(link, name, sink_write, timeout_ms=None):
    """Download a content item (by its listed url) into sink_write(bytes)."""
    items = link._content or content_list(link, timeout_ms)
    for it in items:
        if it.get("name") == name:
            from uedge.transport.http_download import http_get

            return http_get(it["url"], sink_write, ca=link.ca, timeout_ms=timeout_ms or link.timeout_ms)
    raise MuranoError("no content named %r" % (name,))
