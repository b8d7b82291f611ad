"""OTA updater: download, verify before install, switch, confirm, roll back."""
import binascii
import json
import os

from uedge.ota import fetch
from uedge.ota import files
from uedge.ota import updater


class Store:
    """An IoT Connector content area: list + streamed download."""

    def __init__(self):
        self.items = {}
        self.gets = []

    def put(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        self.items[name] = data

    def publish(self, manifest, archive):
        self.put("%s-%s.json" % (manifest["name"], manifest["version"]), json.dumps(manifest))
        self.put(fetch.archive_name(manifest), archive)

    def content_list(self):
        return [{"name": n, "length": len(d), "mime": "x", "url": ""} for n, d in self.items.items()]

    def content_get(self, name, sink_write):
        self.gets.append(name)
        data = self.items[name]
        for i in range(0, len(data), 7):
            sink_write(data[i : i + 7])


def tmpdir():
    d = "/tmp/uedge-ota-" + binascii.hexlify(os.urandom(5)).decode()
    files.makedirs(d)
    return d


def read(path):
    with open(path, "rb") as f:
        return f.read()


FILES = [("uedge/__init__.py", b"VERSION = '1.1.0'\n"), ("uedge_fw/app.py", b"print('app')\n")]


def test_update_installs_side_by_side_and_marks_pending():
    root = tmpdir()
    try:
        store = Store()
        store.publish(*fetch.build_bundle("uedge-test", "1.1.0", FILES))
        store.publish(*fetch.build_bundle("uedge-test", "0.9.0", FILES))
        u = updater.Updater(root, "uedge-test", "1.0.0")
        assert u.update(store) == "1.1.0"
        assert read(root + "/apps/1.1.0/uedge_fw/app.py") == b"print('app')\n"
        assert not files.exists(root + "/ota.stage")
        st = files.read_json(root + "/ota.json")
        assert st["current"] == "1.1.0" and st["pending"] and st["previous"] == "1.0.0"
        assert st["dir"] == "apps/1.1.0" and st["previous_dir"] == ""
        # nothing newer: no download at all
        store.gets = []
        u2 = updater.Updater(root, "uedge-test", "1.0.0")
        assert u2.version == "1.1.0"
        assert u2.update(store) is None and store.gets == []
    finally:
        files.rmtree(root)


def test_bad_hash_rejected_before_anything_is_installed():
    root = tmpdir()
    try:
        store = Store()
        m, archive = fetch.build_bundle("uedge-test", "2.0.0", FILES)
        store.publish(m, archive[:-3] + b"XXX")  # same size, different bytes
        u = updater.Updater(root, "uedge-test", "1.0.0")
        assert u.update(store) is None
        assert "sha256" in u.last_error and "rejected" in u.last_error
        assert not files.exists(root + "/apps/2.0.0")
        assert not files.exists(root + "/ota.stage")
        assert u.version == "1.0.0" and not u.pending
        # a broken download is retried a few times, then left alone
        assert u.update(store) is None
        assert u.update(store) is None
        store.gets = []
        assert u.update(store) is None
        assert store.gets == ["uedge-test-2.0.0.json"]
        # a new upload (other content) is taken
        m2, a2 = fetch.build_bundle("uedge-test", "2.0.1", FILES)
        store.publish(m2, a2)
        assert u.update(store) == "2.0.1"
    finally:
        files.rmtree(root)


def test_oversized_and_truncated_archives_are_rejected():
    root = tmpdir()
    try:
        store = Store()
        m, archive = fetch.build_bundle("uedge-test", "2.0.0", FILES)
        store.publish(m, archive + b"extra")
        u = updater.Updater(root, "uedge-test", "1.0.0")
        assert u.update(store) is None and "larger" in u.last_error
        m3, a3 = fetch.build_bundle("uedge-test", "3.0.0", FILES)
        store.publish(m3, a3[:-1])
        assert u.update(store) is None and "size" in u.last_error
        assert not files.exists(root + "/apps")
    finally:
        files.rmtree(root)


def test_bad_manifest_is_reported_not_raised():
    root = tmpdir()
    try:
        store = Store()
        store.put("uedge-test-5.0.0.json", "{not json")
        u = updater.Updater(root, "uedge-test", "1.0.0")
        assert u.update(store) is None and "not valid JSON" in u.last_error
        m, a = fetch.build_bundle("uedge-test", "6.0.0", FILES)
        m["files"][0]["path"] = "../../etc/passwd"
        store.publish(m, a)
        assert u.update(store) is None and "files[0].path" in u.last_error
    finally:
        files.rmtree(root)


def test_confirm_after_contact_keeps_new_version():
    root = tmpdir()
    try:
        store = Store()
        store.publish(*fetch.build_bundle("uedge-test", "1.1.0", FILES))
        updater.Updater(root, "uedge-test", "1.0.0").update(store)
        assert updater.boot_select(root) == root + "/apps/1.1.0"
        u = updater.Updater(root, "uedge-test", "1.0.0", confirm_timeout_s=60)
        u.start(1000)
        assert not u.poll(30000)
        assert u.contact()
        assert not u.poll(10 ** 9)
        assert updater.boot_select(root) == root + "/apps/1.1.0"
        assert files.read_json(root + "/ota.json")["pending"] is False
    finally:
        files.rmtree(root)


def test_no_contact_within_timeout_rolls_back():
    root = tmpdir()
    try:
        store = Store()
        store.publish(*fetch.build_bundle("uedge-test", "1.1.0", FILES))
        updater.Updater(root, "uedge-test", "1.0.0").update(store)
        updater.boot_select(root)
        u = updater.Updater(root, "uedge-test", "1.0.0", confirm_timeout_s=60)
        u.start(0)
        assert not u.poll(59999)
        assert u.poll(60000)
        assert u.version == "1.0.0"
        assert updater.boot_select(root) == ""
        st = files.read_json(root + "/ota.json")
        assert st["bad"] == ["1.1.0"] and "rolled back" in st["last"]
        # the failed version is not offered again
        u2 = updater.Updater(root, "uedge-test", "1.0.0")
        assert u2.update(store) is None
    finally:
        files.rmtree(root)


def test_unconfirmed_reboots_roll_back_at_boot():
    root = tmpdir()
    try:
        store = Store()
        store.publish(*fetch.build_bundle("uedge-test", "1.1.0", FILES))
        store.publish(*fetch.build_bundle("uedge-test", "1.2.0", FILES))
        u = updater.Updater(root, "uedge-test", "1.0.0")
        assert u.update(store) == "1.2.0"
        u.contact()
        store.publish(*fetch.build_bundle("uedge-test", "1.3.0", FILES))
        assert u.update(store) == "1.3.0"
        assert updater.boot_select(root, max_tries=2) == root + "/apps/1.3.0"
        assert updater.boot_select(root, max_tries=2) == root + "/apps/1.3.0"
        # third boot without confirmation: back to 1.2.0
        assert updater.boot_select(root, max_tries=2) == root + "/apps/1.2.0"
        assert updater.Updater(root, "uedge-test", "1.0.0").version == "1.2.0"
    finally:
        files.rmtree(root)


def test_old_versions_are_pruned_and_missing_dir_falls_back():
    root = tmpdir()
    try:
        store = Store()
        u = updater.Updater(root, "uedge-test", "1.0.0")
        for v in ("1.1.0", "1.2.0", "1.3.0"):
            store.publish(*fetch.build_bundle("uedge-test", v, FILES))
            assert u.update(store) == v
            u.contact()
        assert sorted(os.listdir(root + "/apps")) == ["1.2.0", "1.3.0"]
        files.rmtree(root + "/apps/1.3.0")
        assert updater.boot_select(root) == ""
    finally:
        files.rmtree(root)


def test_write_json_atomic_replaces_whole_file():
    root = tmpdir()
    try:
        p = root + "/s.json"
        files.write_json_atomic(p, {"a": 1})
        files.write_json_atomic(p, {"b": 2})
        assert files.read_json(p) == {"b": 2}
        assert not files.exists(p + ".tmp")
        assert files.read_json(root + "/missing.json", 5) == 5
    finally:
        files.rmtree(root)
