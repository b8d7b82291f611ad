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

Only what a board needs all the time lives here (boot selection, the state
file, confirmation and rollback); checking, downloading, verifying and
installing a bundle, and building one, live in uedge.ota.fetch, imported when
an update check runs and dropped again after it (RAM on a board); the state
file and filesystem helpers in uedge.ota.files.
"""

import os

from uedge.compat import release
from uedge.ota.files import (
    APPS_DIR,
    STAGE_FILE,
    STATE_FILE,
    isdir,
    join,
    read_json,
    rmtree,
    write_json_atomic,
)

# -- uedge.ota.fetch, imported on first use and dropped again on a board ---------


def _fetch():
    from uedge.ota import fetch

    return fetch


def _drop_fetch():
    """Forget uedge.ota.fetch on a board so its bytecode can be collected."""
    release("uedge.ota.fetch")


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


def rollback_state(st, reason):
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
            rollback_state(st, "not confirmed after %d boots" % tries)
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

    # steps (uedge.ota_fetch) ---------------------------------------------------

    def choose(self, content_list):
        """Name of the newest manifest above the running version, or None."""
        return _fetch().choose(self, content_list)

    def fetch_manifest(self, transport, content_name):
        return _fetch().fetch_manifest(self, transport, content_name)

    def stage(self, transport, manifest):
        """Download the archive to the staging file; verify size + sha256."""
        return _fetch().stage(self, transport, manifest)

    def discard_stage(self):
        try:
            os.remove(self.stage_path)
        except OSError:
            pass

    def verify_stage(self, manifest):
        """Re-check the staged archive (size and sha256) right before unpacking."""
        return _fetch().verify_stage(self, manifest)

    def install(self, manifest):
        """Unpack the verified staging file into apps/<version> and switch to it."""
        return _fetch().install(self, manifest)

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

        Failures are logged and kept in last_error; they never raise.  On a
        board the download/install code is dropped from RAM afterwards.
        """
        try:
            return _fetch().update(self, transport, on_found)
        finally:
            _drop_fetch()

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
        rollback_state(self.state, reason)
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
