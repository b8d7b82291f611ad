"""Murano HTTP content area: list the files offered to the device, fetch one.

Used only by OTA checks, so it is imported on first use (boards keep it off the heap).
"""

from uedge.transport.http_client import HTTPError
from uedge.transport.http_download import http_get
from uedge.transport.http_form import quote_plus
from uedge.transport.link import AuthError


def content_list(link, timeout_ms=None):
    """-> [{name, length, mime, url}] from /provision/download, over link's write connection."""
    st, _h, body = link.request("GET", "/provision/download", timeout_ms)
    if st == 401:
        raise AuthError("not authorized (HTTP 401)")
    if st == 204:
        return []
    if st != 200:
        raise HTTPError("content list -> HTTP %d" % st)
    names = [n.strip() for n in body.decode().replace("\r", "").split("\n") if n.strip()]
    out = []
    for name in names:
        path = "/provision/download?id=" + quote_plus(name)
        item = {"name": name, "length": None, "mime": None, "url": link.base_url + path}
        st, _h, info = link.request("GET", path + "&info=true", timeout_ms)
        if st == 200:
            f = info.decode().strip().split(",")
            item["mime"] = f[0] if f else None
            if len(f) > 1 and f[1].isdigit():
                item["length"] = int(f[1])
        out.append(item)
    return out


def content_get(link, name, sink_write, timeout_ms=None):
    """Stream the content `name` into sink_write(bytes) -> bytes written."""
    url = link.base_url + "/provision/download?id=" + quote_plus(name)
    return http_get(url, sink_write, timeout_ms=timeout_ms or link.timeout_ms,
                    headers=link.auth_headers(), ssl_params=link.ssl_params)
