"""OTA bundle format: manifests, archives, version order."""
from ptest import raises

from uedge.ota import fetch
from uedge.ota import files


def test_build_bundle_concatenates_files_in_manifest_order():
    m, archive = fetch.build_bundle("uedge-rp2040", "1.2.0", [("a.py", b"AAA"), ("d/b.py", "BB")])
    assert archive == b"AAABB"
    assert m["size"] == 5
    assert m["files"][0] == {"path": "a.py", "size": 3, "sha256": fetch.sha256_hex(b"AAA")}
    assert m["files"][1]["path"] == "d/b.py"
    assert m["sha256"] == fetch.sha256_hex(b"AAABB")
    assert m["archive"] == "uedge-rp2040-1.2.0.uea"
    assert fetch.check_manifest(m) is None
    assert fetch.check_manifest(m, "uedge-rp2040") is None


def test_sha256_matches_known_vector():
    assert fetch.sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_manifest_errors_name_the_field():
    m, _ = fetch.build_bundle("x", "1.0.0", [("a.py", b"1")])
    bad = dict(m)
    bad["sha256"] = "nothex"
    assert "manifest.sha256" in fetch.check_manifest(bad)
    bad = dict(m)
    bad["size"] = 99
    assert "add up to" in fetch.check_manifest(bad)
    bad = dict(m)
    bad["version"] = "1.x"
    assert "manifest.version" in fetch.check_manifest(bad)
    bad = dict(m)
    bad["files"] = [{"path": "../boot.py", "size": 1}]
    assert "files[0].path" in fetch.check_manifest(bad)
    bad["files"] = [{"path": "/main.py", "size": 1}]
    assert "files[0].path" in fetch.check_manifest(bad)
    assert "manifest.name" in fetch.check_manifest(m, "other")
    assert fetch.check_manifest([1]) == "manifest must be a JSON object"


def test_build_bundle_refuses_unsafe_paths():
    e = raises(files.OtaError, fetch.build_bundle, "x", "1.0.0", [("../x.py", b"1")])
    assert "path" in str(e)


def test_versions_compare_numerically():
    assert fetch.parse_version("1.10.0") == (1, 10, 0)
    assert fetch.is_newer("1.10.0", "1.9.9")
    assert not fetch.is_newer("1.2", "1.2")
    assert fetch.is_newer("0.0.1", "factory")
    raises(files.OtaError, fetch.parse_version, "1.2-beta")
    raises(files.OtaError, fetch.parse_version, "")


def test_manifest_candidates_from_content_listing():
    listing = [
        {"name": "uedge-esp32-1.0.0.json", "length": 10, "mime": "application/json", "url": "u"},
        {"name": "uedge-esp32-1.0.0.uea", "length": 10, "mime": "application/octet-stream"},
        {"name": "uedge-rp2040-2.0.0.json", "length": 10},
        {"name": "uedge-esp32-latest.json", "length": 10},
        {"name": "logo.gif", "length": 1},
        "uedge-esp32-1.1.json",
        {"bogus": 1},
    ]
    got = sorted(fetch.manifest_candidates(listing, "uedge-esp32"))
    assert got == [("1.0.0", "uedge-esp32-1.0.0.json"), ("1.1", "uedge-esp32-1.1.json")]
