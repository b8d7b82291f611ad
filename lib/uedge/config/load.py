"""Loading config documents on a board: the validators (config_io, fields,
json_reader) are imported for one document and, on MicroPython, unloaded
again, so their bytecode goes back to the heap (.mpy files) while the steady
loop runs. The classes they return live in uedge.config.model, which stays.
"""

import json
import sys

from uedge.config.model import ConfigError

_VALIDATORS = ("config_io", "fields", "json_reader")


def parse_io(obj_or_text, check_channel=None):
    """config_io.parse_config_io, then release() (raises ConfigError)."""
    from uedge.config import config_io

    try:
        return config_io.parse_config_io(obj_or_text, check_channel)
    finally:
        release()


def applications_of(text):
    """Application names a config_io text uses ([] when it cannot be read):
    which drivers to load before parse_io validates it. Read by the C JSON
    parser, or by json_reader when that refuses the text."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if doc is None:
        from uedge.config import json_reader

        try:
            doc = json_reader.loads(text)
        except ConfigError:
            return []
        finally:
            release()
    chans = doc.get("channels") if isinstance(doc, dict) else None
    apps = []
    if isinstance(chans, dict):
        for cid in chans:
            ch = chans[cid]
            pc = ch.get("protocol_config") if isinstance(ch, dict) else None
            app = pc.get("application") if isinstance(pc, dict) else None
            if isinstance(app, str) and app not in apps:
                apps.append(app)
    return apps


def release():
    """Unload the validators on MicroPython, unless config_applications (which
    uses them) is loaded; they load again for the next document."""
    if sys.implementation.name != "micropython" or "uedge.config.config_applications" in sys.modules:
        return
    pkg = sys.modules.get("uedge.config")
    for name in _VALIDATORS:
        sys.modules.pop("uedge.config." + name, None)
        if pkg is not None and name in pkg.__dict__:
            delattr(pkg, name)
