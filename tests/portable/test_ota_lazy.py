"""OTA download/install code is a separate module, loaded for an update check only."""

import binascii
import os
import sys

from uedge import ota


class _NoContent:
    def content_list(self):
        return []


def _tmpdir():
    d = "/tmp/uedge-ota-lazy-" + binascii.hexlify(os.urandom(5)).decode()
    ota.makedirs(d)
    return d


def test_fetch_names_reachable_through_ota():
    m, archive = ota.build_bundle("uedge-x", "1.0.0", [("uedge/a.py", b"print(1)\n")])
    assert ota.check_manifest(m, "uedge-x") is None
    assert ota.archive_name(m) == "uedge-x-1.0.0.uea"
    assert ota.is_newer("1.0.1", "1.0.0")
    assert not hasattr(ota, "no_such_name")


def test_update_check_leaves_no_download_code_on_micropython():
    d = _tmpdir()
    try:
        u = ota.Updater(d, "uedge-x", "1.0.0")
        assert u.update(_NoContent()) is None
        if sys.implementation.name == "micropython":
            assert "uedge.ota_fetch" not in sys.modules
        assert u.status()["version"] == "1.0.0"
    finally:
        ota.rmtree(d)
