"""Loading config documents on a board: the validators (config_io, fields,
json_reader) are imported for one document and, on MicroPython, unloaded
again, so their bytecode goes back to the heap (.mpy files) while the steady
loop runs. The classes they return live in uedge.config.model, which stays.
"""

import gc
import sys

from uedge.compat import release as _release


def parse_io(obj_or_text, check_channel=None, taken=False):
    """A config_io document (dict or JSON text) -> ConfigIO, the validators
    released after it (raises ConfigError). A text is read first, with
    json_reader alone loaded; the reader goes before config_io and fields
    are loaded to build the model from the tree. taken: obj_or_text is a
    list holding the text, taken out of it here, so that the text goes once
    read (the caller keeps no reference to it): a board's heap holds the
    text and the reader, then the tree and the validators."""
    doc = obj_or_text
    obj_or_text = None
    order = None
    try:
        if taken:
            doc = doc.pop()
        if isinstance(doc, (str, bytes, bytearray)):
            doc, order = _read(doc)  # (a call of one argument: no stale copy of the text stays on this frame's stack)
            release()
            gc.collect()
        from uedge.config import config_io

        return config_io.parse_tree(doc, order, check_channel)
    finally:
        release()


def _read(text):
    from uedge.config import json_reader

    return json_reader.parse_ordered(text)


def applications_of(text):
    """Application names a config_io text uses: which drivers to load before
    parse_io validates it. The text is scanned for "application" keys, not
    parsed, so nothing but the names is allocated (a parse here would leave a
    board's heap fragmented by a whole document tree just before parse_io).
    At worst a name more than the channels use (a key of that name inside an
    app_specific_config, or in a document parse_io then rejects), never one
    less: a quote inside a JSON string is always escaped."""
    if not isinstance(text, str):
        text = bytes(text).decode()
    apps = []
    key = '"application"'
    n = len(text)
    i = text.find(key)
    while i >= 0:
        j = _skip_ws(text, i + len(key), n)
        if j < n and text[j] == ":":
            j = _skip_ws(text, j + 1, n)
            if j < n and text[j] == '"':
                k = text.find('"', j + 1)
                if k > j:
                    name = text[j + 1 : k]
                    if "\\" not in name and name not in apps:
                        apps.append(name)
        i = text.find(key, j)
    return apps


def _skip_ws(text, j, n):
    while j < n and text[j] in " \t\r\n":
        j += 1
    return j


def release():
    """Unload the validators on MicroPython, unless config_applications (which
    uses them) is loaded; they load again for the next document."""
    if "uedge.config.config_applications" in sys.modules:
        return
    # named one by one: tools/deploy.py finds the modules a board releases by these calls
    _release("uedge.config.config_io")
    _release("uedge.config.fields")
    _release("uedge.config.json_reader")
