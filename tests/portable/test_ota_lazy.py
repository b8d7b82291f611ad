"""OTA download/install code is a separate module, loaded for an update check only."""

import binascii
import os
import sys

from uedge.ota import fetch
from uedge.ota import files
from uedge.ota import updater


class _NoContent:
    def content_list(self):
        return []


def _tmpdir():
    d = "/tmp/uedge-ota-lazy-" + binascii.hexlify(os.urandom(5)).decode()
    files.makedirs(d)
    return d


def test_bundle_code_lives_in_ota_fetch():
    m, archive = fetch.build_bundle("uedge-x", "1.0.0", [("uedge/a.py", b"print(1)\n")])
    assert fetch.check_manifest(m, "uedge-x") is None
    assert fetch.archive_name(m) == "uedge-x-1.0.0.uea"
    assert fetch.is_newer("1.0.1", "1.0.0")
    assert not hasattr(updater, "build_bundle")  # not loaded with the updater


def test_update_check_leaves_no_download_code_on_micropython():
    d = _tmpdir()
    try:
        u = updater.Updater(d, "uedge-x", "1.0.0")
        assert u.update(_NoContent()) is None
        if sys.implementation.name == "micropython":
            assert "uedge.ota.fetch" not in sys.modules
        assert u.status()["version"] == "1.0.0"
    finally:
        files.rmtree(d)
