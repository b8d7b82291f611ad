#!/usr/bin/env python3
"""Build, flash and provision uedge boards; make OTA bundles.

    python tools/deploy.py build     --board rp2040            # -> build/rp2040/
    python tools/deploy.py flash     --board rp2040 --port /dev/ttyACM0
    python tools/deploy.py provision --board rp2040 [--device-id ID --host H ...]
    python tools/deploy.py bundle    --board rp2040 --version 1.2.0   # OTA bundle

build compiles lib/uedge, firmware/uedge_fw and the board profile with
mpy-cross for the board's architecture into build/<board>/lib/ (.mpy) and
copies firmware/boot.py + main.py (MicroPython runs those two as source).
flash copies build/<board>/ onto the board with mpremote, plus the settings
written by provision (build/<board>/device/settings.json, secrets.json).
--port dir:PATH "flashes" into a directory instead (the virtual board).
"""

import argparse
import getpass
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, os.path.join(ROOT, "host"))

from uedge.ota import fetch  # noqa: E402  (portable bundle format)
from uedge_host.ota import collect_sources, write_bundle  # noqa: E402

BOARDS = ("rp2040", "esp32")
ARCH = {"rp2040": "armv6m", "esp32": "xtensawin"}
SETTINGS_FILE = "settings.json"
SECRETS_FILE = "secrets.json"


def tool(name):
    """mpy-cross / mpy-cross-stock / mpremote: $UEDGE_MPY_CROSS (and
    $UEDGE_MPY_CROSS_STOCK), the venv's (tools/mpbuild.py links both
    mpy-cross builds there from the pinned MicroPython tree), then PATH."""
    env = {"mpy-cross": "UEDGE_MPY_CROSS", "mpy-cross-stock": "UEDGE_MPY_CROSS_STOCK"}.get(name)
    if env and os.environ.get(env):
        return os.environ[env]
    p = os.path.join(ROOT, ".venv", "bin", name)
    if os.path.exists(p):
        return p
    found = shutil.which(name)
    if not found:
        sys.exit("deploy: %s not found (run make setup)" % name)
    return found


def board_dir(board):
    if board not in BOARDS:
        sys.exit("deploy: unknown board %r (have %s)" % (board, ", ".join(BOARDS)))
    return os.path.join(ROOT, "boards", board)


def source_files(board):
    """[(source path, path on the board)] of everything a board runs.

    Library modules go under lib/ (compiled); boot.py and main.py stay source.
    """
    out = []
    for top, dest in (("lib/uedge", "lib/uedge"), ("firmware/uedge_fw", "lib/uedge_fw")):
        base = os.path.join(ROOT, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for fn in sorted(filenames):
                if fn.endswith(".py"):
                    src = os.path.join(dirpath, fn)
                    rel = os.path.relpath(src, base).replace(os.sep, "/")
                    out.append((src, dest + "/" + rel))
    out.append((os.path.join(board_dir(board), "board.py"), "lib/board.py"))
    out.append((os.path.join(ROOT, "firmware", "boot.py"), "boot.py"))
    out.append((os.path.join(ROOT, "firmware", "main.py"), "main.py"))
    return out


_RELEASED = re.compile(r"""release\(["']([A-Za-z0-9_.]+)["']\)""")


def transient_modules(plan):
    """Modules a board loads for one task and releases after: those named in
    a release("...") call (uedge.compat.release) of the sources in plan."""
    out = set()
    for src, _dest in plan:
        if src and src.endswith(".py"):
            with open(src) as f:
                out.update(_RELEASED.findall(f.read()))
    return out


def stock_mpy_cross():
    """The stock mpy-cross of the pinned tree (strings of more than 10
    characters stay string objects), or None when it is not at hand."""
    env = os.environ.get("UEDGE_MPY_CROSS_STOCK")
    if env:
        return env
    p = os.path.join(ROOT, ".venv", "bin", "mpy-cross-stock")
    return p if os.path.exists(p) else None


def _is_mpy(node):
    """None, or the value a test of MICROPYTHON has on a board."""
    import ast

    if isinstance(node, ast.Name) and node.id == "MICROPYTHON":
        return True
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Name)
            and node.operand.id == "MICROPYTHON"):
        return False
    return None


def board_source(text):
    """The source as a board compiles it: every if/elif/ternary test that is
    MICROPYTHON or `not MICROPYTHON` (uedge.compat) is written as the True or
    False it is on a board, a leading one of and/or is resolved, so that
    mpy-cross drops the CPython branches (their code, names and constants
    never reach a board's heap). Line numbers are kept."""
    import ast

    tree = ast.parse(text)
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def span(n):
        return starts[n.lineno - 1] + n.col_offset, starts[n.end_lineno - 1] + n.end_col_offset

    def src(n):
        a, b = span(n)
        return text[a:b]

    edits = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.If, ast.While)):
            v = _is_mpy(n.test)
            if v is not None:
                edits.append((span(n.test), "True" if v else "False"))
        elif isinstance(n, ast.IfExp):
            v = _is_mpy(n.test)
            if v is not None:
                edits.append((span(n), "(%s)" % src(n.body if v else n.orelse)))
        elif isinstance(n, ast.BoolOp) and n.values and _is_mpy(n.values[0]) is not None:
            v = _is_mpy(n.values[0])
            rest = n.values[1:]
            op = " and " if isinstance(n.op, ast.And) else " or "
            if v == isinstance(n.op, ast.Or):  # True or ..., False and ...: decided
                edits.append((span(n), "True" if v else "False"))
            else:  # True and x, False or x: x
                edits.append((span(n), "(%s)" % op.join("(%s)" % src(x) for x in rest)))
    # innermost edits inside an outer one are dropped (the outer decides)
    edits.sort(key=lambda e: (e[0][0], -e[0][1]))
    keep = []
    for e in edits:
        if keep and e[0][0] < keep[-1][0][1]:
            continue
        keep.append(e)
    for (a, b), rep in reversed(keep):
        text = text[:a] + rep + text[b:]
    return text


def module_name(dest):
    """lib/uedge/transport/net.py -> uedge.transport.net (lib/uedge/ota/__init__.py -> uedge.ota)."""
    name = dest[4:] if dest.startswith("lib/") else dest
    for ext in (".mpy", ".py"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if name.endswith("/__init__"):
        name = name[: -len("/__init__")]
    return name.replace("/", ".")


# mpy-cross optimisation level of the board's .mpy files (make build/flash OPT=N,
# deploy.py --opt N): 3 (the default) drops line numbers and asserts, 0 keeps
# them for debugging. -O3 takes about 3 KB less heap for the modules a board
# loads (docs/firmware.md); tracebacks and crash.txt still name the function
# and module.
OPT = [3]


def set_opt(level):
    level = int(level or 0)
    if not 0 <= level <= 3:
        raise SystemExit("deploy: --opt must be 0..3, got %d" % level)
    OPT[0] = level


def compile_one(src, dst, arch, mpy_cross=None, source_name=None, opt=None):
    """Compile src to dst. source_name is the file name tracebacks show: the
    module's dotted name, a string the board holds anyway (its __name__), so
    each loaded module costs one string less on the heap than its path would,
    and no build machine path ends up in the image. opt: mpy-cross -O level
    (default OPT, 3)."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    cmd = [mpy_cross or tool("mpy-cross"), "-march=" + arch, "-o", dst]
    level = OPT[0] if opt is None else opt
    if level:
        cmd.append("-O%d" % level)
    if source_name:
        cmd += ["-s", source_name]
    cmd.append(src)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("deploy: mpy-cross rejects %s: %s" % (src, r.stderr.strip()))


def build(board, out=None, version=None, quiet=False, overrides=None):
    """Compile for the board into out (default build/<board>); returns {device path: bytes}.

    overrides: {device path of a .py, e.g. "lib/uedge_fw/version.py": source text}
    replaces (or adds) modules; version=X is shorthand for the version module.
    """
    overrides = dict(overrides or {})
    if version:
        overrides["lib/uedge_fw/version.py"] = "VERSION = %r\n" % version
    arch = ARCH[board]
    out = out or os.path.join(ROOT, "build", board)
    lib_out = os.path.join(out, "lib")
    if os.path.isdir(lib_out):
        shutil.rmtree(lib_out)
    mpy_cross = tool("mpy-cross")
    # The modules loaded for one task and released after (the config
    # validators, the start, provisioning, the update check ...) are
    # compiled with the stock mpy-cross: a qstr outlives the module that made
    # it, a string object goes with it (mpy-cross, built with every string of
    # up to 200 characters a qstr, suits the modules that stay loaded).
    stock = stock_mpy_cross() or mpy_cross
    sizes = {}
    plan = source_files(board)
    transient = transient_modules(plan)
    have = set(d for _, d in plan)
    plan += [(None, d) for d in sorted(overrides) if d not in have]
    for src, dest in plan:
        text = overrides.get(dest)
        if dest.startswith("lib/"):
            dest = dest[:-3] + ".mpy"
            dst = os.path.join(out, dest)
            name = module_name(dest)
            cross = stock if name in transient else mpy_cross
            if text is None:
                with open(src) as f:
                    text = f.read()
            if "MICROPYTHON" in text:
                text = board_source(text)  # a board's copy: the CPython branches dropped
            tmp = dst + ".py"
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(tmp, "w") as f:
                f.write(text)
            compile_one(tmp, dst, arch, cross, name)
            os.remove(tmp)
        else:
            dst = os.path.join(out, dest)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
        sizes[dest] = os.path.getsize(dst)
    if not quiet:
        lib_total = sum(v for k, v in sizes.items() if k.endswith(".mpy"))
        print(
            "build: %s (%s) -> %s: %d files, %d bytes of .mpy"
            % (board, arch, os.path.relpath(out, ROOT), len(sizes), lib_total)
        )
    return sizes


def make_bundle(board, version, out_dir=None, build_out=None, overrides=None):
    """Build with the given version and pack build/<board>/lib into an OTA bundle."""
    fetch.parse_version(version)
    build_out = build_out or os.path.join(ROOT, "build", board + "-" + version)
    build(board, build_out, version=version, quiet=True, overrides=overrides)
    files = collect_sources([(os.path.join(build_out, "lib"), "")], suffixes=None)
    return write_bundle(bundle_name(board), version, files, out_dir or os.path.join(ROOT, "build", "ota"))


def bundle_name(board):
    ns = {}
    with open(os.path.join(board_dir(board), "board.py")) as f:
        exec(compile(f.read(), "board.py", "exec"), ns)
    return ns.get("BUNDLE_NAME") or "uedge-" + board


# -- provision ---------------------------------------------------------------


def _ask(args, attr, env, prompt, secret=False, default=None):
    v = getattr(args, attr, None) or os.environ.get(env)
    if v:
        return v
    if default is not None and not sys.stdin.isatty():
        return default
    if sys.stdin.isatty():
        v = (getpass.getpass if secret else input)(
            "%s%s: " % (prompt, " [%s]" % default if default else "")
        )
        return v or default
    raise SystemExit("provision: give --%s or set %s" % (attr.replace("_", "-"), env))


def provision(args):
    """Write the device settings + secrets files (mode 0600) for flash to copy."""
    out = os.path.join(args.out or os.path.join(ROOT, "build", args.board), "device")
    os.makedirs(out, exist_ok=True)
    settings = {
        "device_id": _ask(args, "device_id", "UEDGE_DEVICE_ID", "device id"),
        "host": _ask(args, "host", "UEDGE_HOST", "IoT Connector host (FQDN)"),
        "port": int(args.mqtt_port or os.environ.get("UEDGE_PORT") or 8883),
        "protocol": args.protocol,
        "tls": not args.no_tls,
        "auth": args.auth,
        "wifi": {"ssid": _ask(args, "wifi_ssid", "UEDGE_WIFI_SSID", "WiFi SSID", default="")},
        "ntp_host": args.ntp_host,
        "ota": {"check_s": args.ota_check_s, "confirm_s": args.ota_confirm_s},
    }
    if args.ca:
        settings["ca"] = "ca.pem"
        shutil.copyfile(args.ca, os.path.join(out, "ca.pem"))
    secrets = {"wifi_password": _ask(args, "wifi_password", "UEDGE_WIFI_PASSWORD", "WiFi password", True, "")}
    if args.auth == "password":
        secrets["password"] = _ask(args, "password", "UEDGE_PASSWORD", "device password (>= 20 chars)", True)
    write_private(os.path.join(out, SETTINGS_FILE), json.dumps(settings, indent=1))
    write_private(os.path.join(out, SECRETS_FILE), json.dumps(secrets))
    print("provision: wrote %s and %s (0600)" % (
        os.path.relpath(os.path.join(out, SETTINGS_FILE), ROOT),
        os.path.relpath(os.path.join(out, SECRETS_FILE), ROOT)))
    return out


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# -- flash -------------------------------------------------------------------


def flash(board, port, build_out=None, reset="hard"):
    """Copy the build onto the board; reset="soft" for the qemu board, whose
    machine.reset() ends the emulator."""
    build_out = build_out or os.path.join(ROOT, "build", board)
    if not os.path.isdir(os.path.join(build_out, "lib")):
        build(board, build_out)
    device = os.path.join(build_out, "device")
    if port.startswith("dir:"):
        return flash_dir(build_out, port[4:])
    if not port:
        raise SystemExit("flash: give PORT=/dev/ttyACM0 (or dir:PATH for a directory)")
    mp = tool("mpremote")
    cmd = [mp, "connect", port]
    cmd += ["fs", "cp", "-r", os.path.join(build_out, "lib"), ":", "+"]
    cmd += ["fs", "cp", os.path.join(build_out, "boot.py"), ":boot.py", "+"]
    cmd += ["fs", "cp", os.path.join(build_out, "main.py"), ":main.py"]
    if os.path.isdir(device):
        for fn in sorted(os.listdir(device)):
            cmd += ["+", "fs", "cp", os.path.join(device, fn), ":" + fn]
    else:
        print("flash: no build/%s/device/ yet: run make provision first for settings" % board)
    cmd += ["+", "soft-reset" if reset == "soft" else "reset"]
    print("flash: " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def flash_dir(build_out, target):
    os.makedirs(target, exist_ok=True)
    lib = os.path.join(target, "lib")
    if os.path.isdir(lib):
        shutil.rmtree(lib)
    shutil.copytree(os.path.join(build_out, "lib"), lib)
    for fn in ("boot.py", "main.py"):
        shutil.copyfile(os.path.join(build_out, fn), os.path.join(target, fn))
    device = os.path.join(build_out, "device")
    if os.path.isdir(device):
        for fn in os.listdir(device):
            shutil.copy2(os.path.join(device, fn), os.path.join(target, fn))
    return target


def main(argv=None):
    p = argparse.ArgumentParser(prog="deploy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("build", "flash", "provision", "bundle"))
    p.add_argument("--board", default="rp2040", choices=BOARDS)
    p.add_argument("--port", default="", help="serial port for flash, or dir:PATH")
    p.add_argument("--out", help="build directory (default build/<board>)")
    p.add_argument("--version", help="bundle: the version to build and pack")
    p.add_argument("--opt", default="3", help="mpy-cross -O level of the .mpy files (0..3; default 3: no "
                   "line numbers in tracebacks, no asserts, less heap; 0 to debug); make build/flash OPT=0")
    p.add_argument("--device-id")
    p.add_argument("--host")
    p.add_argument("--mqtt-port", type=int)
    p.add_argument("--protocol", default="mqtt", choices=("mqtt", "http"))
    p.add_argument("--auth", default="token", choices=("token", "password"))
    p.add_argument("--password")
    p.add_argument("--no-tls", action="store_true")
    p.add_argument("--ca", help="CA certificate (PEM) to copy onto the board")
    p.add_argument("--wifi-ssid")
    p.add_argument("--wifi-password")
    p.add_argument("--ntp-host", default="pool.ntp.org")
    p.add_argument("--ota-check-s", type=int, default=3600)
    p.add_argument("--ota-confirm-s", type=int, default=300)
    a = p.parse_args(argv)
    set_opt(a.opt)
    if a.command == "build":
        build(a.board, a.out)
    elif a.command == "flash":
        flash(a.board, a.port, a.out)
    elif a.command == "provision":
        provision(a)
    elif a.command == "bundle":
        if not a.version:
            raise SystemExit("bundle: give --version X.Y.Z")
        mpath, apath, m = make_bundle(a.board, a.version, a.out)
        print("bundle: %s (%d files, %d bytes, sha256 %s)" % (
            os.path.relpath(mpath, ROOT), len(m["files"]), m["size"], m["sha256"]))
        print("bundle: upload both %s and %s as content to the IoT Connector" % (
            os.path.basename(mpath), os.path.basename(apath)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
