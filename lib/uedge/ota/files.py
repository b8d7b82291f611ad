"""OTA state files and filesystem helpers that work on MicroPython and CPython."""

import os

from uedge.compat import json
from uedge.ota import STATE_FILE  # noqa: F401  (part of this module's API)

STAGE_FILE = "ota.stage"
APPS_DIR = "apps"
CHUNK = 1024
MAX_ATTEMPTS = 3  # downloads of one bundle (version + sha256) that failed verification


class OtaError(Exception):
    pass


# -- small filesystem helpers that work on MicroPython and CPython -----------


def join(a, b):
    if not a:
        return b
    if a.endswith("/"):
        return a + b
    return a + "/" + b


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def isdir(path):
    try:
        return (os.stat(path)[0] & 0x4000) != 0
    except OSError:
        return False


def makedirs(path):
    if not path or isdir(path):
        return
    parent = path.rsplit("/", 1)[0] if "/" in path.strip("/") else ""
    if path.startswith("/") and not parent:
        parent = ""
    if parent and parent != path:
        makedirs(parent)
    try:
        os.mkdir(path)
    except OSError:
        if not isdir(path):
            raise


def rmtree(path):
    if not exists(path):
        return
    if isdir(path):
        for name in os.listdir(path):
            rmtree(join(path, name))
        os.rmdir(path)
    else:
        os.remove(path)


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return default


def write_json_atomic(path, obj):
    """Write a small JSON file so a power cut leaves the old or the new one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(obj))
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT cannot rename over an existing file.
        try:
            os.remove(path)
        except OSError:
            pass
        os.rename(tmp, path)
