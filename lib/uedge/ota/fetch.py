"""OTA: checking, downloading, verifying and installing bundles; building them.

Imported by uedge.ota.updater when an update check runs (or a bundle is built) and
dropped again after it on a board; see uedge.ota.updater for the bundle format and
the steps.  The functions taking `u` are the steps of an updater.Updater.
"""

import binascii
import hashlib
import os

from uedge.compat import json
from uedge.ota.files import CHUNK, MAX_ATTEMPTS, OtaError, join, makedirs, rmtree


def hexdigest(h):
    return binascii.hexlify(h.digest()).decode()


def sha256_hex(data):
    return hexdigest(hashlib.sha256(data))


def file_sha256(path, buf=None):
    h = hashlib.sha256()
    buf = buf or bytearray(CHUNK)
    mv = memoryview(buf)
    n_total = 0
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(mv[:n])
            n_total += n
    return n_total, hexdigest(h)


# -- versions and manifests ---------------------------------------------------


def parse_version(v):
    """'1.10.2' -> (1, 10, 2); raises OtaError naming the bad part."""
    if not isinstance(v, str) or not v:
        raise OtaError("version must be a non-empty string like 1.2.0, got %r" % (v,))
    out = []
    for part in v.split("."):
        if not part.isdigit():
            raise OtaError("version must be dotted numbers like 1.2.0, got %r" % (v,))
        out.append(int(part))
    return tuple(out)


def is_newer(a, b):
    """True when version a is above version b (unparsable b counts as lowest)."""
    try:
        vb = parse_version(b)
    except OtaError:
        return True
    return parse_version(a) > vb


def _safe_path(p):
    if not isinstance(p, str) or not p or p.startswith("/") or "\\" in p:
        return False
    for part in p.split("/"):
        if part in ("", ".", ".."):
            return False
    return True


_HEX = "0123456789abcdef"


def _is_sha(s):
    if not isinstance(s, str) or len(s) != 64:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def check_manifest(m, name=None):
    """Return None when the manifest is well formed, else a message naming the field."""
    if not isinstance(m, dict):
        return "manifest must be a JSON object"
    if not isinstance(m.get("name"), str) or not m["name"]:
        return "manifest.name must be a non-empty string"
    if name is not None and m["name"] != name:
        return "manifest.name is %r, this device takes %r" % (m["name"], name)
    try:
        parse_version(m.get("version"))
    except OtaError as e:
        return "manifest.version: %s" % e
    size = m.get("size")
    if not isinstance(size, int) or size < 0:
        return "manifest.size must be a non-negative integer, got %r" % (size,)
    if not _is_sha(m.get("sha256")):
        return "manifest.sha256 must be 64 lowercase hex digits"
    files = m.get("files")
    if not isinstance(files, list) or not files:
        return "manifest.files must be a non-empty list"
    total = 0
    seen = {}
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            return "manifest.files[%d] must be an object" % i
        if not _safe_path(f.get("path")):
            return "manifest.files[%d].path must be a relative path without '..', got %r" % (
                i,
                f.get("path"),
            )
        if f["path"] in seen:
            return "manifest.files[%d].path %r is listed twice" % (i, f["path"])
        seen[f["path"]] = 1
        fs = f.get("size")
        if not isinstance(fs, int) or fs < 0:
            return "manifest.files[%d].size must be a non-negative integer" % i
        if "sha256" in f and not _is_sha(f["sha256"]):
            return "manifest.files[%d].sha256 must be 64 lowercase hex digits" % i
        total += fs
    if total != size:
        return "manifest.size is %d but the files add up to %d" % (size, total)
    arch = m.get("archive")
    if arch is not None and (not isinstance(arch, str) or "/" in arch or not arch):
        return "manifest.archive must be a content name"
    return None


def archive_name(m):
    return m.get("archive") or "%s-%s.uea" % (m["name"], m["version"])


def build_bundle(name, version, files):
    """files: [(path, bytes)] -> (manifest dict, archive bytes).  Used by deploy and tests."""
    parts = []
    entries = []
    for path, data in files:
        if isinstance(data, str):
            data = data.encode()
        parts.append(data)
        entries.append({"path": path, "size": len(data), "sha256": sha256_hex(data)})
    archive = b"".join(parts)
    m = {
        "name": name,
        "version": version,
        "size": len(archive),
        "sha256": sha256_hex(archive),
        "archive": "%s-%s.uea" % (name, version),
        "files": entries,
    }
    err = check_manifest(m)
    if err:
        raise OtaError(err)
    return m, archive


def manifest_candidates(content_list, name):
    """[(version, content_name)] of the manifests for `name` in a $content listing."""
    out = []
    prefix = name + "-"
    for item in content_list or ():
        try:
            cname = item.get("name") if isinstance(item, dict) else item
        except AttributeError:
            continue
        if not isinstance(cname, str):
            continue
        if cname.startswith(prefix) and cname.endswith(".json"):
            v = cname[len(prefix) : -5]
            try:
                parse_version(v)
            except OtaError:
                continue
            out.append((v, cname))
    return out


class _HashingSink:
    """Receives the download: writes to the staging file, counts and hashes."""

    def __init__(self, f, limit, tick=None):
        self.tick = tick
        self.f = f
        self.limit = limit
        self.n = 0
        self.h = hashlib.sha256()
        self.error = None

    def write(self, data):
        if self.error:
            return
        n = len(data)
        if self.n + n > self.limit:
            self.error = "archive is larger than the manifest's size %d" % self.limit
            return
        self.n += n
        self.h.update(data)
        self.f.write(data)
        if self.tick:
            self.tick()  # e.g. feed the watchdog during a long download


# -- the steps of an Updater ----------------------------------------------------


def choose(u, content_list):
    """Name of the newest manifest above the running version, or None."""
    best = None
    bad = u.state.get("bad") or []
    for v, cname in manifest_candidates(content_list, u.name):
        if v in bad or not is_newer(v, u.version):
            continue
        if best is None or parse_version(v) > parse_version(best[0]):
            best = (v, cname)
    return best

def fetch_manifest(u, transport, content_name):
    chunks = []
    transport.content_get(content_name, chunks.append)
    raw = b"".join(bytes(c) for c in chunks)
    try:
        m = json.loads(raw.decode())
    except (ValueError, UnicodeError):
        raise OtaError("%s is not valid JSON" % content_name) from None
    err = check_manifest(m, u.name)
    if err:
        raise OtaError("%s: %s" % (content_name, err))
    return m

def stage(u, transport, manifest):
    """Download the archive to the staging file; verify size + sha256."""
    try:
        os.remove(u.stage_path)
    except OSError:
        pass
    with open(u.stage_path, "wb") as f:
        sink = _HashingSink(f, manifest["size"], u.tick)
        transport.content_get(archive_name(manifest), sink.write)
    err = sink.error
    if not err and sink.n != manifest["size"]:
        err = "archive size %d, manifest says %d" % (sink.n, manifest["size"])
    if not err:
        got = hexdigest(sink.h)
        if got != manifest["sha256"]:
            err = "archive sha256 %s does not match the manifest's %s" % (
                got,
                manifest["sha256"],
            )
    if err:
        u.discard_stage()
        raise OtaError("rejected %s %s: %s" % (manifest["name"], manifest["version"], err))
    return u.stage_path

def verify_stage(u, manifest):
    """Re-check the staged archive (size and sha256) right before unpacking."""
    n, got = file_sha256(u.stage_path)
    if n != manifest["size"] or got != manifest["sha256"]:
        u.discard_stage()
        raise OtaError(
            "rejected %s %s: staged archive does not match the manifest"
            % (manifest["name"], manifest["version"])
        )

def install(u, manifest):
    """Unpack the verified staging file into apps/<version> and switch to it."""
    u.verify_stage(manifest)
    v = manifest["version"]
    rel = u.apps_dir + "/" + v
    final = join(u.root, rel)
    part = final + ".part"
    rmtree(part)
    makedirs(part)
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    try:
        with open(u.stage_path, "rb") as src:
            for entry in manifest["files"]:
                path = join(part, entry["path"])
                if "/" in entry["path"]:
                    makedirs(path.rsplit("/", 1)[0])
                left = entry["size"]
                h = hashlib.sha256()
                with open(path, "wb") as out:
                    while left > 0:
                        n = src.readinto(mv[: min(left, CHUNK)])
                        if not n:
                            raise OtaError("archive ended inside %s" % entry["path"])
                        h.update(mv[:n])
                        out.write(mv[:n])
                        left -= n
                if "sha256" in entry and hexdigest(h) != entry["sha256"]:
                    raise OtaError("sha256 of %s does not match" % entry["path"])
    except Exception:
        rmtree(part)
        u.discard_stage()
        raise
    rmtree(final)
    os.rename(part, final)
    u.discard_stage()
    st = u.state
    keep = (rel, st.get("dir"))
    st["previous"] = u.version
    st["previous_dir"] = st.get("dir") or ""
    st["current"] = v
    st["dir"] = rel
    st["pending"] = True
    st["tries"] = 0
    st["last"] = "installed %s, pending confirmation" % v
    u._save()
    u._prune(keep)
    u.switched(rel)
    u.log("ota: installed %s (previous %s), restart to run it" % (v, st["previous"]))
    return v


def update(u, transport, on_found=None):
    """One full check: returns the installed version, or None (nothing / failed).

    on_found(version) is called when a download is about to start.

    Failures are logged and kept in last_error; they never raise.
    """
    try:
        found = u.choose(transport.content_list())
        if not found:
            return None
        v, cname = found
        m = u.fetch_manifest(transport, cname)
        if m["version"] != v:
            raise OtaError("%s declares version %s" % (cname, m["version"]))
        key = "%s:%s" % (v, m["sha256"])
        rejected = u.state.get("rejected") or {}
        if rejected.get(key, 0) >= MAX_ATTEMPTS:
            return None  # refused this exact bundle enough times; wait for a new one
        u.log("ota: found %s %s" % (u.name, v))
        if on_found:
            on_found(v)
        try:
            u.stage(transport, m)
        except OtaError:
            rejected[key] = rejected.get(key, 0) + 1
            u.state["rejected"] = rejected
            u._save()
            raise
        return u.install(m)
    except Exception as e:
        u.last_error = str(e)
        u.log("ota: %s" % e)
        return None

# after boot -------------------------------------------------------------

