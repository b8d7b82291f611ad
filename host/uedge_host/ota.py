"""Over-the-air updates for Linux gateways, as Gateway Engine does them.

Layout under the base directory (default /opt/uedge):

    versions/<version>/      one installed application bundle each
    current -> versions/<v>  symlink the service runs from (PYTHONPATH or
                             ExecStart=/opt/uedge/current/...)
    factory/                 the version installed by the package (optional;
                             `current` points here when no bundle is active)
    ota.json                 state: current, previous, pending, tries, bad
    fetch.stage                the download being verified

The mechanism is the portable one (uedge.ota: manifest + concatenated
archive, size + sha256 verified BEFORE anything is unpacked, side-by-side
install, pending until the connector is reached).  On top of it a gateway:

  * switches the `current` symlink atomically (rename of a new link over it);
  * restarts the service with a configurable command
    (`systemctl restart uedge`, `supervisorctl restart uedge`, ...);
  * rolls back when the new version does not reach the connector within
    confirm_timeout_s (poll()), or when the service starts max_tries times
    without confirming (on_start(), run by ExecStartPre from the factory
    install so a broken bundle cannot prevent its own rollback).

Command line:
    python -m uedge_host.ota status   [--base DIR]
    python -m uedge_host.ota boot     [--base DIR] [--max-tries N]   (ExecStartPre)
    python -m uedge_host.ota confirm  [--base DIR]
    python -m uedge_host.ota rollback [--base DIR] [--restart-cmd CMD]
    python -m uedge_host.ota install  MANIFEST ARCHIVE [--base DIR] [--restart-cmd CMD]
    python -m uedge_host.ota bundle   --version X.Y.Z [--name uedge-gateway] [--out DIR]
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time

from uedge.compat import json
from uedge.ota import fetch
from uedge.ota import files
from uedge.ota import updater

DEFAULT_BASE = "/opt/uedge"
DEFAULT_NAME = "uedge-gateway"
VERSIONS_DIR = "versions"
FACTORY_DIR = "factory"


class HostOta(updater.Updater):
    def __init__(self, base=DEFAULT_BASE, name=DEFAULT_NAME, version="0.0.0",
                 restart_cmd=None, confirm_timeout_s=300, max_tries=2, log=None):
        os.makedirs(base, exist_ok=True)
        updater.Updater.__init__(self, base, name, version, confirm_timeout_s=confirm_timeout_s,
                             max_tries=max_tries, log=log or (lambda m: print(m, flush=True)),
                             apps_dir=VERSIONS_DIR)
        self.base = base
        self.restart_cmd = restart_cmd
        self.restarts = 0

    # -- layout -----------------------------------------------------------------
    @property
    def current_link(self):
        return os.path.join(self.base, "current")

    def current_target(self):
        try:
            return os.readlink(self.current_link)
        except OSError:
            return None

    def switched(self, rel_dir):
        """Point `current` at rel_dir ('' = factory) with one atomic rename."""
        target = rel_dir or FACTORY_DIR
        tmp = self.current_link + ".new"
        try:
            os.remove(tmp)
        except OSError:
            pass
        os.symlink(target, tmp)
        os.replace(tmp, self.current_link)

    # -- service ----------------------------------------------------------------
    def restart(self, why):
        self.restarts += 1
        self.log("ota: restarting the service (%s)" % why)
        if not self.restart_cmd:
            return None
        cmd = self.restart_cmd if isinstance(self.restart_cmd, list) else shlex.split(self.restart_cmd)
        try:
            return subprocess.run(cmd, check=False, timeout=120).returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            self.log("ota: restart command failed: %s" % e)
            return None

    def update_and_restart(self, transport):
        v = self.update(transport)
        if v:
            self.restart("switched to %s" % v)
        return v

    def install_files(self, manifest_path, archive_path):
        """Install a bundle from local files (e.g. copied by hand), verified the same way."""
        with open(manifest_path) as f:
            m = json.load(f)
        err = fetch.check_manifest(m, self.name)
        if err:
            raise files.OtaError(err)
        shutil.copyfile(archive_path, self.stage_path)
        n, got = fetch.file_sha256(self.stage_path)
        if n != m["size"] or got != m["sha256"]:
            self.discard_stage()
            raise files.OtaError("rejected %s %s: archive size/sha256 does not match the manifest"
                               % (m["name"], m["version"]))
        return self.install(m)

    # -- start / confirm / roll back --------------------------------------------------
    def on_start(self):
        """At service start: count tries of a pending version, roll back past max_tries.

        Returns True when it rolled back (the caller should restart or go on
        with the now-current previous version).
        """
        st = self.state
        rolled = False
        if st.get("pending"):
            tries = st.get("tries", 0)
            if tries >= self.max_tries:
                updater.rollback_state(st, "not confirmed after %d starts" % tries)
                self.log("ota: " + st["last"])
                rolled = True
            else:
                st["tries"] = tries + 1
            self._save()
        d = st.get("dir") or ""
        if d and not os.path.isdir(os.path.join(self.base, d)):
            self.log("ota: %s is missing, using the factory install" % d)
            st["dir"] = ""
            st["pending"] = False
            self._save()
            d = ""
        want = d or FACTORY_DIR
        if self.current_target() != want:
            self.switched(d)
        return rolled

    def poll(self, now_ms=None):
        if now_ms is None:
            now_ms = int(time.monotonic() * 1000)
        if updater.Updater.poll(self, now_ms):
            self.restart("rollback")
            return True
        return False

    def poll_edge(self, edge, now_ms=None):
        """Drive from the daemon loop: confirm on connector contact, else time out."""
        if getattr(edge, "connected", False):
            self.contact()
            return False
        return self.poll(now_ms)


# -- bundles for gateways ----------------------------------------------------------


SOURCE_SUFFIXES = (".py", ".json", ".service", ".conf", ".ini")


def collect_sources(roots, suffixes=SOURCE_SUFFIXES):
    """[(path in bundle, bytes)] of the files under each (dir, prefix) whose
    names end in one of suffixes (None: every file), in sorted order."""
    files = []
    for top, prefix in roots:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for fn in sorted(filenames):
                if suffixes is None or fn.endswith(suffixes):
                    p = os.path.join(dirpath, fn)
                    rel = os.path.relpath(p, top).replace(os.sep, "/")
                    with open(p, "rb") as f:
                        files.append((prefix + rel, f.read()))
    return files


def write_bundle(name, version, files, out_dir):
    """Pack files ([(path, bytes)]) into an OTA bundle and write its manifest
    (<name>-<version>.json) and archive into out_dir -> (manifest path,
    archive path, manifest)."""
    m, archive = fetch.build_bundle(name, version, files)
    os.makedirs(out_dir, exist_ok=True)
    mpath = os.path.join(out_dir, "%s-%s.json" % (name, version))
    apath = os.path.join(out_dir, fetch.archive_name(m))
    with open(mpath, "w") as f:
        json.dump(m, f, indent=1)
    with open(apath, "wb") as f:
        f.write(archive)
    return mpath, apath, m


def make_gateway_bundle(version, out_dir, name=DEFAULT_NAME, root=None):
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    files = collect_sources([
        (os.path.join(root, "lib", "uedge"), "uedge/"),
        (os.path.join(root, "host", "uedge_host"), "uedge_host/"),
    ])
    return write_bundle(name, version, files, out_dir)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m uedge_host.ota", description="gateway OTA manager")
    p.add_argument("command", choices=("status", "boot", "confirm", "rollback", "install", "bundle"))
    p.add_argument("files", nargs="*")
    p.add_argument("--base", default=os.environ.get("UEDGE_BASE", DEFAULT_BASE))
    p.add_argument("--name", default=DEFAULT_NAME)
    p.add_argument("--restart-cmd", default=os.environ.get("UEDGE_RESTART_CMD"))
    p.add_argument("--max-tries", type=int, default=2)
    p.add_argument("--version")
    p.add_argument("--out", default="build/ota")
    a = p.parse_args(argv)
    if a.command == "bundle":
        if not a.version:
            p.error("bundle needs --version")
        mpath, apath, m = make_gateway_bundle(a.version, a.out, a.name)
        print("bundle: %s + %s (%d files, %d bytes)" % (mpath, apath, len(m["files"]), m["size"]))
        return 0
    o = HostOta(a.base, a.name, restart_cmd=a.restart_cmd, max_tries=a.max_tries)
    if a.command == "status":
        print(json.dumps(dict(o.status(), current_link=o.current_target()), indent=1))
    elif a.command == "boot":
        o.on_start()
    elif a.command == "confirm":
        o.contact()
    elif a.command == "rollback":
        if not o.state.get("previous") and not o.state.get("dir"):
            print("ota: nothing to roll back to")
            return 1
        o.rollback("requested by the operator")
        o.restart("rollback")
    elif a.command == "install":
        if len(a.files) != 2:
            p.error("install needs MANIFEST ARCHIVE")
        try:
            v = o.install_files(a.files[0], a.files[1])
        except files.OtaError as e:
            print("ota: %s" % e)
            return 1
        o.restart("switched to %s" % v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
