"""Over-the-air updates of uedge application bundles (boards and gateways).

A bundle is two content items on the IoT Connector:

  <name>-<version>.json   the manifest:
      {"name": "uedge-rp2040", "version": "1.2.0", "size": 5120,
       "sha256": "<hex of the whole archive>", "archive": "uedge-rp2040-1.2.0.uea",
       "files": [{"path": "uedge/edge.mpy", "size": 2048, "sha256": "<hex>"}, ...]}
  <name>-<version>.uea    the archive: the files' bytes concatenated in the order
                          of "files", nothing else (no headers, no compression),
                          so a board unpacks it with plain reads.

The update runs in steps, and nothing that runs is touched before the last one:
  1. list content, pick the newest manifest above the running version;
  2. stream the archive into a staging file while counting and hashing it;
     a wrong size or sha256 deletes the staging file: rejected before install;
  3. unpack into apps/<version>.part (per-file sizes and hashes checked), then
     rename to apps/<version>;
  4. switch: ota.json (written atomically via rename) names the new version as
     current, the old one as previous, and marks it pending;
  5. after the next boot the edge loop calls contact() on its first successful
     exchange with the connector: the version is confirmed.  If it does not
     get there within confirm_timeout_s, or boots max_tries times without
     confirming, the previous version becomes current again.

Paths are relative to `root` (the board's filesystem root, or a directory on a
gateway).  apps/<version> is a library directory: the boot code puts it in
front of sys.path.
"""

import binascii
import hashlib
import json
import os

STATE_FILE = "ota.json"
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


# -- boot-time selection ------------------------------------------------------


def _new_state(version):
    return {
        "current": version,
        "dir": "",
        "previous": None,
        "previous_dir": None,
        "pending": False,
        "tries": 0,
        "bad": [],
        "last": None,
    }


def _rollback_state(st, reason):
    bad = st.get("bad") or []
    if st.get("current") and st["current"] not in bad:
        bad.append(st["current"])
    st["bad"] = bad[-8:]
    st["last"] = "rolled back %s to %s: %s" % (st.get("current"), st.get("previous"), reason)
    st["current"] = st.get("previous")
    st["dir"] = st.get("previous_dir") or ""
    st["previous"] = None
    st["previous_dir"] = None
    st["pending"] = False
    st["tries"] = 0


def boot_select(root="", max_tries=2, log=None):
    """Called once per boot before the application is imported.

    Returns the library directory of the version to run ('' = the factory
    image in the normal library path) and counts boots of a pending version;
    a pending version that has booted max_tries times without confirming is
    rolled back here.
    """
    path = join(root, STATE_FILE)
    st = read_json(path)
    if not isinstance(st, dict):
        return ""
    changed = False
    if st.get("pending"):
        tries = st.get("tries", 0)
        if tries >= max_tries:
            _rollback_state(st, "not confirmed after %d boots" % tries)
            if log:
                log("ota: " + st["last"])
        else:
            st["tries"] = tries + 1
        changed = True
    d = st.get("dir") or ""
    if d and not isdir(join(root, d)):
        if log:
            log("ota: %s is missing, running the factory image" % d)
        st["dir"] = ""
        st["pending"] = False
        d = ""
        changed = True
    if changed:
        write_json_atomic(path, st)
    return join(root, d) if d else ""


# -- the updater --------------------------------------------------------------


class Updater:
    """Checks, downloads, installs, confirms and rolls back bundles.

    transport: anything with content_list() and content_get(name, sink_write)
    (uedge.murano.MuranoMQTT / MuranoHTTP).
    """

    def __init__(
        self, root, name, version, confirm_timeout_s=300, max_tries=2, log=None, tick=None,
        apps_dir=APPS_DIR,
    ):
        self.tick = tick
        self.apps_dir = apps_dir
        self.root = root
        self.name = name
        self.factory_version = version
        self.confirm_timeout_ms = int(confirm_timeout_s * 1000)
        self.max_tries = max_tries
        self.log = log or (lambda msg: None)
        self.state_path = join(root, STATE_FILE)
        self.stage_path = join(root, STAGE_FILE)
        self.started_ms = None
        self.last_error = None
        st = read_json(self.state_path)
        if not isinstance(st, dict):
            st = _new_state(version)
        self.state = st

    @property
    def version(self):
        return self.state.get("current") or self.factory_version

    @property
    def pending(self):
        return bool(self.state.get("pending"))

    def _save(self):
        write_json_atomic(self.state_path, self.state)

    # steps ------------------------------------------------------------------

    def choose(self, content_list):
        """Name of the newest manifest above the running version, or None."""
        best = None
        bad = self.state.get("bad") or []
        for v, cname in manifest_candidates(content_list, self.name):
            if v in bad or not is_newer(v, self.version):
                continue
            if best is None or parse_version(v) > parse_version(best[0]):
                best = (v, cname)
        return best

    def fetch_manifest(self, transport, content_name):
        chunks = []
        transport.content_get(content_name, chunks.append)
        raw = b"".join(bytes(c) for c in chunks)
        try:
            m = json.loads(raw.decode())
        except (ValueError, UnicodeError):
            raise OtaError("%s is not valid JSON" % content_name) from None
        err = check_manifest(m, self.name)
        if err:
            raise OtaError("%s: %s" % (content_name, err))
        return m

    def stage(self, transport, manifest):
        """Download the archive to the staging file; verify size + sha256."""
        try:
            os.remove(self.stage_path)
        except OSError:
            pass
        with open(self.stage_path, "wb") as f:
            sink = _HashingSink(f, manifest["size"], self.tick)
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
            self.discard_stage()
            raise OtaError("rejected %s %s: %s" % (manifest["name"], manifest["version"], err))
        return self.stage_path

    def discard_stage(self):
        try:
            os.remove(self.stage_path)
        except OSError:
            pass

    def verify_stage(self, manifest):
        """Re-check the staged archive (size and sha256) right before unpacking."""
        n, got = file_sha256(self.stage_path)
        if n != manifest["size"] or got != manifest["sha256"]:
            self.discard_stage()
            raise OtaError(
                "rejected %s %s: staged archive does not match the manifest"
                % (manifest["name"], manifest["version"])
            )

    def install(self, manifest):
        """Unpack the verified staging file into apps/<version> and switch to it."""
        self.verify_stage(manifest)
        v = manifest["version"]
        rel = self.apps_dir + "/" + v
        final = join(self.root, rel)
        part = final + ".part"
        rmtree(part)
        makedirs(part)
        buf = bytearray(CHUNK)
        mv = memoryview(buf)
        try:
            with open(self.stage_path, "rb") as src:
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
            self.discard_stage()
            raise
        rmtree(final)
        os.rename(part, final)
        self.discard_stage()
        st = self.state
        keep = (rel, st.get("dir"))
        st["previous"] = self.version
        st["previous_dir"] = st.get("dir") or ""
        st["current"] = v
        st["dir"] = rel
        st["pending"] = True
        st["tries"] = 0
        st["last"] = "installed %s, pending confirmation" % v
        self._save()
        self._prune(keep)
        self.switched(rel)
        self.log("ota: installed %s (previous %s), restart to run it" % (v, st["previous"]))
        return v

    def switched(self, rel_dir):
        """Hook: the current version's directory changed (gateways re-point a symlink)."""
        pass

    def _prune(self, keep):
        apps = join(self.root, self.apps_dir)
        if not isdir(apps):
            return
        for n in os.listdir(apps):
            rel = self.apps_dir + "/" + n
            if rel not in keep:
                rmtree(join(apps, n))

    def update(self, transport, on_found=None):
        """One full check: returns the installed version, or None (nothing / failed).

        on_found(version) is called when a download is about to start.

        Failures are logged and kept in last_error; they never raise.
        """
        try:
            found = self.choose(transport.content_list())
            if not found:
                return None
            v, cname = found
            m = self.fetch_manifest(transport, cname)
            if m["version"] != v:
                raise OtaError("%s declares version %s" % (cname, m["version"]))
            key = "%s:%s" % (v, m["sha256"])
            rejected = self.state.get("rejected") or {}
            if rejected.get(key, 0) >= MAX_ATTEMPTS:
                return None  # refused this exact bundle enough times; wait for a new one
            self.log("ota: found %s %s" % (self.name, v))
            if on_found:
                on_found(v)
            try:
                self.stage(transport, m)
            except OtaError:
                rejected[key] = rejected.get(key, 0) + 1
                self.state["rejected"] = rejected
                self._save()
                raise
            return self.install(m)
        except Exception as e:
            self.last_error = str(e)
            self.log("ota: %s" % e)
            return None

    # after boot -------------------------------------------------------------

    def start(self, now_ms):
        """The application started (at now_ms on the loop clock)."""
        self.started_ms = now_ms
        if self.pending:
            self.log(
                "ota: running %s pending confirmation (%d s to reach the connector)"
                % (self.version, self.confirm_timeout_ms // 1000)
            )

    def contact(self):
        """The connector was reached: confirm a pending version."""
        if self.pending:
            self.state["pending"] = False
            self.state["tries"] = 0
            self.state["last"] = "confirmed %s" % self.version
            self._save()
            self.log("ota: confirmed %s" % self.version)
            return True
        return False

    def poll(self, now_ms):
        """True when a pending version timed out and was rolled back: restart now."""
        if not self.pending or self.started_ms is None:
            return False
        if now_ms - self.started_ms < self.confirm_timeout_ms:
            return False
        self.rollback("connector not reached within %d s" % (self.confirm_timeout_ms // 1000))
        return True

    def rollback(self, reason):
        _rollback_state(self.state, reason)
        self._save()
        self.switched(self.state.get("dir") or "")
        self.log("ota: " + self.state["last"])

    def status(self):
        st = self.state
        return {
            "version": self.version,
            "pending": self.pending,
            "previous": st.get("previous"),
            "bad": list(st.get("bad") or []),
            "last": st.get("last"),
            "error": self.last_error,
        }
