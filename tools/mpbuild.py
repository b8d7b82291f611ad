#!/usr/bin/env python3
"""Build MicroPython from the pinned source (tools/micropython.pin) into a cache.

    python tools/mpbuild.py build mpy-cross unix32 qemu     # build what is asked
    python tools/mpbuild.py path unix32                     # build if needed, print the path
    python tools/mpbuild.py link .venv/bin                  # micropython + mpy-cross symlinks
    python tools/mpbuild.py info                            # where things are
    python tools/mpbuild.py firmware rp2040|esp32           # make firmware BOARD=...

Targets (each its own BUILD= directory, named by a hash of its configuration,
so changed flags or board files never reuse stale objects):
  mpy-cross        the cross compiler the boards' .mpy files are made with (same
                   tree as the firmware: .mpy versions match), built with
                   MPY_CROSS_CFLAGS: every string constant of up to 200 characters
                   becomes a qstr (the ports build their own stock mpy-cross for
                   freezing)
  mpy-cross-stock  that stock mpy-cross (strings of more than 10 characters stay
                   string objects): the modules a board loads for one task and
                   releases after are compiled with it (tools/deploy.py), so
                   their strings go with them instead of staying as qstrs
  unix32           unix port, i686, static, socket/select/ssl, mbedTLS allocating
                   from the GC heap as on a board (MICROPY_MBEDTLS_CONFIG_BARE_METAL,
                   MICROPY_TRACKED_ALLOC)
  unix32-frozen    the same with lib/uedge + firmware/uedge_fw frozen in
  unix32-board     the same with what a board's flash holds before uedge is
                   copied on frozen in (the simulated machine/network/ntptime
                   modules and the footprint bench's driver): the bench's .mpy runs
  qemu             boards/qemu-m3 (qemu-system-arm mps2-an385, Cortex-M3)
  qemu-frozen      the same with lib/uedge + firmware/uedge_fw frozen in
  picotool         the host tool the rp2 build needs
  rp2040           boards/rp2040/UEDGE_PICO_W: a Pico W .uf2 with uedge frozen in

Source, first that works:
  1. $MICROPYTHON_SRC: a directory holding micropython/ (and picotool/), or a
     MicroPython checkout itself (then picotool is cloned if rp2040 is asked);
  2. ../shared/micropython/<tarball> next to the repository (sha256 checked);
  3. git clone of the pinned commit + `make submodules` for unix, qemu, rp2, and
     a clone of picotool (needs network access to GitHub).
Cache: ${XDG_CACHE_HOME:-~/.cache}/uedge/micropython/<commit>/ (outside the
repository: `make clean` keeps it; a new pin gives a new directory).
Missing Debian packages are installed with apt-get when running as root.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PIN_FILE = os.path.join(ROOT, "tools", "micropython.pin")
JOBS = os.environ.get("MPBUILD_JOBS") or str(max(1, min(os.cpu_count() or 1, 4)))

# Debian packages each target needs: (package, a file or program that shows it is there)
PACKAGES = {
    "mpy-cross": [("build-essential", "gcc")],
    "unix32": [("gcc-multilib", "/usr/lib/gcc/x86_64-linux-gnu/12/32/crtbegin.o"), ("pkg-config", "pkg-config")],
    "qemu": [("gcc-arm-none-eabi", "arm-none-eabi-gcc"), ("libnewlib-arm-none-eabi", "/usr/lib/arm-none-eabi/include/stdlib.h"),
             ("qemu-system-arm", "qemu-system-arm")],
    "picotool": [("cmake", "cmake"), ("g++", "g++")],
    "rp2040": [("cmake", "cmake"), ("gcc-arm-none-eabi", "arm-none-eabi-gcc"),
               ("libnewlib-arm-none-eabi", "/usr/lib/arm-none-eabi/include/stdlib.h"),
               ("libstdc++-arm-none-eabi-newlib", "/usr/lib/arm-none-eabi/include/c++")],
}
PACKAGES["mpy-cross-stock"] = PACKAGES["mpy-cross"]
PACKAGES["unix32-frozen"] = PACKAGES["unix32-board"] = PACKAGES["unix32"]
PACKAGES["qemu-frozen"] = PACKAGES["qemu"]
TARGETS = ("mpy-cross", "mpy-cross-stock", "unix32", "unix32-frozen", "unix32-board", "qemu", "qemu-frozen", "picotool", "rp2040")
NEEDS = {"unix32-frozen": ("mpy-cross",), "unix32-board": ("mpy-cross",), "qemu": ("mpy-cross",), "qemu-frozen": ("mpy-cross",),
         "rp2040": ("mpy-cross", "picotool"), "unix32": ("mpy-cross",)}

# String constants longer than 10 characters (stock) are str objects in a
# .mpy: loaded from a file, each costs a 16-byte object and its data rounded
# up to 16-byte GC blocks, once per module that holds it. As qstrs they cost
# their length + 7 bytes in the qstr pools (characters, terminator, pool
# entry), once for the whole board; they are never freed, so an on-demand
# module's strings stay after it is released (loading it again adds none).
# The .mpy format is the same either way and a stock firmware loads both;
# qstrs of up to 255 bytes are what the ports allow (MICROPY_QSTR_BYTES_IN_LEN 1).
MPY_CROSS_CFLAGS = "-DMICROPY_ALLOC_PARSE_INTERN_STRING_LEN=200"
UNIX32_CFLAGS = "-m32 -DMICROPY_MBEDTLS_CONFIG_BARE_METAL=1 -DMICROPY_TRACKED_ALLOC=1"
QEMU_BOARD = os.path.join(ROOT, "boards", "qemu-m3")
RP2_BOARD = os.path.join(ROOT, "boards", "rp2040", "UEDGE_PICO_W")


class BuildError(SystemExit):
    pass


def log(msg):
    print("mpbuild: " + msg, flush=True)


def pin():
    d = {}
    with open(PIN_FILE) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                d[k.strip()] = v.strip()
    return d


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "uedge", "micropython", pin()["commit"])


# -- getting the source ----------------------------------------------------------


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd, cwd=None, env=None, quiet=False, logfile=None):
    if logfile:
        with open(logfile, "w") as out:
            r = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            with open(logfile) as f:
                tail = f.read()[-4000:]
            raise BuildError("mpbuild: failed (%s): %s\n%s\n(full log: %s)" % (r.returncode, " ".join(cmd), tail, logfile))
        return
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL if quiet else None)
    if r.returncode != 0:
        raise BuildError("mpbuild: failed (%s): %s" % (r.returncode, " ".join(cmd)))


def source():
    """The directory holding micropython/ and picotool/ (unpacked or cloned if needed)."""
    env_src = os.environ.get("MICROPYTHON_SRC")
    if env_src:
        env_src = os.path.abspath(env_src)
        if os.path.isfile(os.path.join(env_src, "micropython", "py", "mpconfig.h")):
            return env_src
        if os.path.isfile(os.path.join(env_src, "py", "mpconfig.h")):
            # a MicroPython checkout: give it the expected layout in the cache
            d = os.path.join(cache_root(), "src-env")
            os.makedirs(d, exist_ok=True)
            link = os.path.join(d, "micropython")
            if os.path.islink(link) and os.readlink(link) != env_src:
                os.remove(link)
            if not os.path.lexists(link):
                os.symlink(env_src, link)
            return d
        raise BuildError("mpbuild: MICROPYTHON_SRC=%s holds neither micropython/ nor a MicroPython tree" % env_src)
    p = pin()
    src = os.path.join(cache_root(), "src")
    stamp = os.path.join(src, ".unpacked")
    if os.path.exists(stamp):
        return src
    tarball = os.path.join(os.path.dirname(ROOT), "shared", "micropython", p["tarball"])
    if os.path.exists(tarball):
        log("checking %s" % tarball)
        got = _sha256(tarball)
        if got != p["sha256"]:
            raise BuildError("mpbuild: %s has sha256 %s, the pin says %s" % (tarball, got, p["sha256"]))
        tmp = src + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        t0 = time.time()
        with tarfile.open(tarball) as tf:
            try:
                tf.extractall(tmp, filter="tar")
            except TypeError:  # Python < 3.12
                tf.extractall(tmp)
        shutil.rmtree(src, ignore_errors=True)
        os.rename(tmp, src)
        open(stamp, "w").close()
        log("unpacked into %s (%.1f s)" % (src, time.time() - t0))
        return src
    if shutil.which("git"):
        return _clone(p, src, stamp)
    raise BuildError(
        "mpbuild: no MicroPython source: set MICROPYTHON_SRC to a checkout of commit %s, "
        "put %s in ../shared/micropython/, or install git (and allow access to GitHub)" % (p["commit"], p["tarball"]))


def _clone(p, src, stamp):
    log("cloning MicroPython %s from %s" % (p["commit"], p["git"]))
    tmp = src + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    mp = os.path.join(tmp, "micropython")
    try:
        _run(["git", "clone", "--filter=blob:none", p["git"], mp])
        _run(["git", "-C", mp, "checkout", "-q", p["commit"]])
        for port in ("unix", "qemu", "rp2"):
            _run(["make", "-C", os.path.join(mp, "ports", port), "submodules"])
        _run(["git", "-C", mp, "submodule", "update", "--init", "lib/micropython-lib"])
        _run(["git", "clone", "--depth", "1", "--branch", p["picotool_ref"], p["picotool_git"],
              os.path.join(tmp, "picotool")])
    except BuildError as e:
        raise BuildError("%s\nmpbuild: git clone failed; set MICROPYTHON_SRC or provide the tarball" % e) from None
    shutil.rmtree(src, ignore_errors=True)
    os.rename(tmp, src)
    open(stamp, "w").close()
    return src


# -- system packages -------------------------------------------------------------


def _have(probe):
    return os.path.exists(probe) if probe.startswith("/") else shutil.which(probe) is not None


def ensure_packages(targets):
    missing = []
    for t in targets:
        for pkg, probe in PACKAGES.get(t, ()):
            if pkg == "gcc-multilib" and not _have(probe):
                # the probe path depends on the gcc version
                import glob

                if glob.glob("/usr/lib/gcc/x86_64-linux-gnu/*/32/crtbegin.o"):
                    continue
            if not _have(probe) and pkg not in missing:
                missing.append(pkg)
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("apt-get install %s" % " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(["apt-get", "update", "-qq"], env=env, quiet=True)
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing, env=env, quiet=True)
        return
    raise BuildError("mpbuild: missing Debian packages for %s: %s\n  run: sudo apt-get install %s"
                     % (", ".join(targets), " ".join(missing), " ".join(missing)))


# -- builds ------------------------------------------------------------------------


def _tree_hash(*paths):
    h = hashlib.sha256()
    for base in paths:
        if os.path.isfile(base):
            files = [base]
        else:
            files = []
            for dp, dn, fn in os.walk(base):
                dn[:] = sorted(d for d in dn if d != "__pycache__")
                files += [os.path.join(dp, f) for f in sorted(fn)]
        for f in files:
            # the path inside the tree, not where the checkout is: another
            # clone of the same sources reuses the cached build
            h.update(os.path.relpath(f, os.path.dirname(base)).encode())
            with open(f, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()[:10]


def _cfg_hash(*parts):
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def _manifest_frozen(kind):
    return os.path.join(ROOT, "tools", "manifests", "%s_frozen.py" % kind)


def _stock_mpy_cross(mp):
    """The ports' own mpy-cross (mpy-cross/build/mpy-cross, what their frozen
    rules call), built as a step of its own: built from a port's make it
    would inherit that port's BUILD= and land where the port does not look."""
    return (["make", "-C", os.path.join(mp, "mpy-cross"), "BUILD=build", "-j" + JOBS], None)


def plan(target, src):
    """(build dir, make/cmake commands, product path) for a target."""
    mp = os.path.join(src, "micropython")
    cache = cache_root()
    if target == "mpy-cross":
        build = "build-uedge-mpy-cross-%s" % _cfg_hash(MPY_CROSS_CFLAGS)
        cmd = ["make", "-C", os.path.join(mp, "mpy-cross"), "BUILD=" + build, "CFLAGS_EXTRA=" + MPY_CROSS_CFLAGS, "-j" + JOBS]
        return [(cmd, None)], os.path.join(mp, "mpy-cross", build, "mpy-cross")
    if target == "mpy-cross-stock":
        return [_stock_mpy_cross(mp)], os.path.join(mp, "mpy-cross", "build", "mpy-cross")
    if target in ("unix32", "unix32-frozen", "unix32-board"):
        args = ["CFLAGS_EXTRA=" + UNIX32_CFLAGS, "LDFLAGS_EXTRA=-m32 -static",
                "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0", "MICROPY_STANDALONE=0"]
        extra = []
        if target == "unix32-frozen":
            extra = ["FROZEN_MANIFEST=" + _manifest_frozen("unix")]
        elif target == "unix32-board":
            extra = ["FROZEN_MANIFEST=" + os.path.join(ROOT, "tools", "manifests", "unix_board.py")]
        build = "build-uedge-%s-%s" % (target, _cfg_hash(*(args + extra)))
        cmd = ["make", "-C", os.path.join(mp, "ports", "unix"), "BUILD=" + build, "-j" + JOBS] + args + extra
        return [_stock_mpy_cross(mp), (cmd, None)], os.path.join(mp, "ports", "unix", build, "micropython")
    if target in ("qemu", "qemu-frozen"):
        extra = []
        if target == "qemu-frozen":
            extra = ["FROZEN_MANIFEST=" + _manifest_frozen("qemu")]
        build = "build-uedge-%s-%s" % (target, _cfg_hash(_tree_hash(QEMU_BOARD), *extra))
        cmd = ["make", "-C", os.path.join(mp, "ports", "qemu"), "BOARD=UEDGE_QEMU_M3", "BOARD_DIR=" + QEMU_BOARD,
               "BUILD=" + build, "-j" + JOBS] + extra
        return [_stock_mpy_cross(mp), (cmd, None)], os.path.join(mp, "ports", "qemu", build, "firmware.elf")
    if target == "picotool":
        bdir = os.path.join(cache, "picotool-build")
        prefix = os.path.join(cache, "picotool")
        cmds = [
            (["cmake", "-S", os.path.join(src, "picotool"), "-B", bdir, "-DPICOTOOL_NO_LIBUSB=1",
              "-DPICO_SDK_PATH=" + os.path.join(mp, "lib", "pico-sdk"), "-DCMAKE_INSTALL_PREFIX=" + prefix,
              "-DCMAKE_BUILD_TYPE=Release"], None),
            (["make", "-C", bdir, "-j" + JOBS, "install"], None),
        ]
        return cmds, os.path.join(prefix, "bin", "picotool")
    if target == "rp2040":
        build = "build-uedge-rp2040-%s" % _cfg_hash(_tree_hash(RP2_BOARD))
        prefix = os.path.join(cache, "picotool")
        cmd = ["make", "-C", os.path.join(mp, "ports", "rp2"), "BOARD_DIR=" + RP2_BOARD, "BUILD=" + build,
               "picotool_DIR=" + os.path.join(prefix, "lib", "cmake", "picotool"), "-j" + JOBS]
        return [_stock_mpy_cross(mp), (cmd, None)], os.path.join(mp, "ports", "rp2", build, "firmware.uf2")
    raise BuildError("mpbuild: unknown target %r (have %s)" % (target, ", ".join(TARGETS)))


def _drop_stale(target, product):
    """Remove build dirs of this target made for another configuration."""
    parts = product.split(os.sep)
    for i, p in enumerate(parts):
        if p.startswith("build-uedge-%s-" % target):
            parent = os.sep.join(parts[:i])
            for d in os.listdir(parent):
                if d.startswith("build-uedge-%s-" % target) and d != p and d[len("build-uedge-%s-" % target):].isalnum():
                    shutil.rmtree(os.path.join(parent, d), ignore_errors=True)
            return


def _with_needs(targets):
    out = []

    def add(t):
        for n in NEEDS.get(t, ()):
            add(n)
        if t not in out:
            out.append(t)

    for t in targets:
        add(t)
    return out


def build(targets, force=False):
    """Build targets (and what they need); returns {target: product path}."""
    for t in targets:
        if t not in TARGETS:
            raise BuildError("mpbuild: unknown target %r (have %s)" % (t, ", ".join(TARGETS)))
    targets = _with_needs(targets)
    ensure_packages(targets)
    src = source()
    logs = os.path.join(cache_root(), "logs")
    os.makedirs(logs, exist_ok=True)
    out = {}
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)  # our own -j, not the outer make's jobserver
    env.pop("MFLAGS", None)
    env.pop("MAKELEVEL", None)
    if "rp2040" in targets:
        env["PICO_SDK_PATH"] = os.path.join(src, "micropython", "lib", "pico-sdk")
    for t in targets:
        cmds, product = plan(t, src)
        _drop_stale(t, product)
        t0 = time.time()
        for i, (cmd, _) in enumerate(cmds):
            _run(cmd, env=env, logfile=os.path.join(logs, "%s-%d.log" % (t, i)))
        dt = time.time() - t0
        if not os.path.exists(product):
            raise BuildError("mpbuild: %s built but %s is missing" % (t, product))
        log("%-13s %6.1f s  %s (%d bytes)" % (t, dt, product, os.path.getsize(product)))
        out[t] = product
    return out


def built_path(target):
    """The product of target if it has been built for the current pin and config, else None."""
    try:
        src = source_if_present()
        if src is None:
            return None
        _, product = plan(target, src)
    except (BuildError, OSError):
        return None
    return product if os.path.exists(product) else None


def source_if_present():
    if os.environ.get("MICROPYTHON_SRC"):
        return source()
    src = os.path.join(cache_root(), "src")
    return src if os.path.exists(os.path.join(src, ".unpacked")) else None


def link(bindir):
    """Point <bindir>/micropython, <bindir>/mpy-cross and <bindir>/mpy-cross-stock
    at the pinned builds."""
    paths = build(["mpy-cross", "mpy-cross-stock", "unix32"])
    os.makedirs(bindir, exist_ok=True)
    for name, t in (("micropython", "unix32"), ("mpy-cross", "mpy-cross"), ("mpy-cross-stock", "mpy-cross-stock")):
        dst = os.path.join(bindir, name)
        if os.path.lexists(dst):
            os.remove(dst)
        os.symlink(paths[t], dst)
        log("%s -> %s" % (dst, paths[t]))


def gc_heap_bytes(elf):
    """__GcHeapEnd - __GcHeapStart of an rp2 firmware.elf (the GC heap the board has)."""
    nm = shutil.which("arm-none-eabi-nm")
    if not nm:
        return None
    out = subprocess.run([nm, elf], capture_output=True, text=True).stdout
    sym = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("__GcHeapStart", "__GcHeapEnd"):
            sym[parts[2]] = int(parts[0], 16)
    if len(sym) != 2:
        return None
    return sym["__GcHeapEnd"] - sym["__GcHeapStart"]


def firmware(board):
    """make firmware BOARD=...: build the board image, print its path and size."""
    if board == "rp2040":
        uf2 = build(["rp2040"])["rp2040"]
        heap = gc_heap_bytes(os.path.join(os.path.dirname(uf2), "firmware.elf"))
        print("firmware: %s" % uf2)
        print("firmware: rp2040 .uf2 %d bytes; GC heap (__GcHeapEnd - __GcHeapStart) %s bytes"
              % (os.path.getsize(uf2), heap if heap is not None else "?"))
        print("FIGURE mcu.uf2 %d B" % os.path.getsize(uf2))
        if heap is not None:
            print("FIGURE mcu.gc_heap.rp2040 %d B" % heap)
        return 0
    if board == "esp32":
        idf = os.environ.get("IDF_PATH")
        if not idf:
            print("firmware: esp32 needs ESP-IDF (and its Xtensa toolchain), which this machine does not have;\n"
                  "  on a machine with it: . $IDF_PATH/export.sh, set MICROPYTHON_SRC to a full MicroPython\n"
                  "  checkout of commit %s (with ports/esp32), then make firmware BOARD=esp32.\n"
                  "  Without a custom image: flash stock ESP32_GENERIC and use make flash (see boards/esp32/README.md)."
                  % pin()["commit"])
            return 2
        mp = os.path.join(source(), "micropython")
        port = os.path.join(mp, "ports", "esp32")
        if not os.path.isdir(port):
            raise BuildError("mpbuild: %s has no ports/esp32: set MICROPYTHON_SRC to a full checkout" % mp)
        build(["mpy-cross"])
        cmd = ["make", "-C", port, "BOARD=ESP32_GENERIC",
               "FROZEN_MANIFEST=" + os.path.join(ROOT, "boards", "esp32", "manifest.py"), "-j" + JOBS]
        _run(cmd)
        print("firmware: esp32 image in %s/build-ESP32_GENERIC/" % port)
        return 0
    raise BuildError("mpbuild: no firmware build for board %r (rp2040, esp32)" % board)


def main(argv):
    if len(argv) < 1 or argv[0] not in ("build", "path", "link", "info", "firmware"):
        print(__doc__)
        return 2
    cmd, args = argv[0], argv[1:]
    force = "--force" in args
    args = [a for a in args if a != "--force"]
    if cmd == "build":
        t0 = time.time()
        build(args or ["mpy-cross", "unix32", "qemu"], force)
        log("total %.1f s" % (time.time() - t0))
    elif cmd == "path":
        if len(args) != 1:
            raise BuildError("mpbuild: path takes one target")
        p = built_path(args[0])
        if p is None:
            p = build(args)[args[0]]
        print(p)
    elif cmd == "link":
        link(args[0] if args else os.path.join(ROOT, ".venv", "bin"))
    elif cmd == "firmware":
        return firmware(args[0] if args else "rp2040")
    elif cmd == "info":
        print("pin:   %s" % pin())
        print("cache: %s" % cache_root())
        for t in TARGETS:
            print("%-13s %s" % (t, built_path(t) or "(not built)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
