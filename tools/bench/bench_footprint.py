"""Memory and flash footprint of uedge on 32-bit MicroPython targets (make bench).

    python tools/bench/bench_footprint.py [--step BYTES] [--only mpy,frozen,unix]

The standard workload (tools/bench/mpy_footprint.py: 16 channels, 10 simulated
minutes through the real edge loop, scheduler, channel pipeline, data_in
encoding, SegmentOutbox on the board's filesystem, the MQTT client's receive
buffer; one minute offline, queued and replayed) runs on:

  * the qemu Cortex-M3 board (boards/qemu-m3, tools/qemu_board.py) with the
    firmware's modules as .mpy files on its littlefs, copied there by the
    `make flash` path (tools/deploy.py flash)       -> FIGURE mcu.heap.mpy
  * the same board with lib/uedge + firmware frozen into its image
    (tools/mpbuild.py qemu-frozen)                   -> FIGURE mcu.heap.frozen
  * the same board with the .mpy files in a ROMFS partition (mounted at /rom,
    run in place, as `mpremote romfs deploy` leaves them) -> FIGURE mcu.heap.romfs
  * the 32-bit unix port (i686, mbedTLS allocating from the GC heap) as a
    board: the simulated machine/network/ntptime modules and the workload's
    driver frozen in (tools/mpbuild.py unix32-board), .mpy files from its
    filesystem; and the build with uedge frozen in too (unix32-frozen): heap
    and allocation per loop pass                     -> FIGURE mcu.alloc_per_pass
  * the same two unix builds with every report published over a real
    MuranoMQTT link, MQTT over TLS to the local connector (token provisioned,
    PUBACKs awaited; mbedTLS's session and record buffers in the GC heap); for
    the offline minute the TLS session is closed, and a new handshake at its
    end runs in the heap as the run has left it
                                    -> FIGURE mcu.heap.mpy_tls, mcu.heap.frozen_tls

Each heap figure is the smallest GC heap area (bytes, the figure a board's
link map gives: __GcHeapEnd - __GcHeapStart on rp2) in which the workload
completes, by binary search; near the limit success is not monotonic in the
heap size, so the two steps above the figure are tried as well and a failure
there is printed next to it.  On qemu the heap is set at boot without
rebuilding: the board firmware has a 1 MB heap and holds a block from boot so
that the usable pool equals a heap area of the asked size (boards/qemu-m3/
board.c); on unix with -X heapsize.  The workload's own modules (mpy_footprint,
mpy_footprint_tls: the driver, standing in for app.main, whose code the
workload imports and counts) are measured once imported and their heap is
added to the heap asked for (printed as "workload modules ..., not counted").
On unix the simulated machine/network/ntptime modules (C modules in a board's
flash) are loaded first and the heap they take is added to -X heapsize too, so
every figure is the heap left for the firmware. Both are frozen there, as
C modules and app.main are in a board's flash: their names are ROM qstrs and
do not fill the heap's qstr pools, which grow by doubling (a 7th pool on the
unix port is a 9 KB block).
FIGURE mcu.uf2 is the size of the Pico W image (make firmware BOARD=rp2040).
Every figure comes from a 32-bit build; nothing is scaled from a 64-bit run.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import deploy  # noqa: E402
import mpbuild  # noqa: E402
import qemu_board  # noqa: E402

WORKLOAD = os.path.join(HERE, "mpy_footprint.py")
BOARD = "rp2040"


def modules():
    """Every module a board holds (lib/uedge, firmware/uedge_fw, the board profile),
    named from the deploy plan, so the list follows the source layout."""
    out = []
    for _src, dest in deploy.source_files(BOARD):
        if not dest.startswith("lib/") or not dest.endswith(".py"):
            continue
        name = dest[4:-3].replace("/", ".")
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out.append(name)
    return out


def parse(lines):
    res = {"ok": False}
    for line in lines:
        if line.startswith("ENTRY "):
            res["entry"] = int(line.split()[1])
        elif line.startswith("RESULT ok"):
            res["ok"] = True
            res.update(dict(kv.split("=") for kv in line.split()[2:]))
        elif line.startswith("RESULT "):
            res["error"] = line[7:]
        elif "error" in res and (line.startswith("  File") or line.split(":")[0].endswith("Error")):
            res["error"] += " | " + line.strip()
    return res


def search(probe, lo, hi, step):
    """Smallest heap in [lo, hi] (step resolution) for which probe(heap) succeeds."""
    if not probe(hi)["ok"]:
        return None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if mid <= lo:
            break
        if probe(mid)["ok"]:
            hi = mid
        else:
            lo = mid
    return hi


def harness_bytes(run, tls=False):
    """Heap the bench's own workload modules take once imported (mpy_footprint,
    and with TLS mpy_footprint_tls): the driver that stands in for app.main,
    whose code the workload loads and counts already. run(code) runs
    MicroPython code on the target and returns its output."""
    code = ("import gc\ngc.collect()\na = gc.mem_alloc()\nimport mpy_footprint\ngc.collect()\n"
            "h = gc.mem_alloc() - a\n")
    if tls:  # measured after the simulated hardware modules, which are not counted either
        code += ("mpy_footprint._hw()\ngc.collect()\na = gc.mem_alloc()\nimport mpy_footprint_tls\n"
                 "gc.collect()\nh += gc.mem_alloc() - a\n")
    for line in run(code + "print('HARNESS', h)\n").splitlines():
        if line.startswith("HARNESS "):
            return int(line.split()[1])
    raise RuntimeError("cannot measure the heap of the workload modules")


def romfs_image(build_out, path):
    """A ROMFS image holding build_out/lib (mounted at /rom: /rom/lib on sys.path)."""
    root = os.path.join(os.path.dirname(path), "romfs-root")
    shutil.copytree(os.path.join(build_out, "lib"), os.path.join(root, "lib"))
    subprocess.run([deploy.tool("mpremote"), "romfs", "-o", path, "--no-mpy", "build", root],
                   check=True, capture_output=True, text=True)
    return path


class Qemu:
    """The workload on the Cortex-M3 board, over mpremote as on a real board.

    kind: "mpy" (.mpy files copied onto littlefs by the make flash path),
    "frozen" (modules frozen into the image) or "romfs" (the same .mpy files
    in a ROMFS partition, run in place from it, as `mpremote romfs deploy` leaves them).
    """

    def __init__(self, kind, tmp):
        frozen = kind == "frozen"
        self.frozen = frozen
        self.name = "qemu-m3 %s" % {"frozen": "frozen", "mpy": ".mpy on littlefs", "romfs": ".mpy in ROMFS"}[kind]
        if frozen:
            mpbuild.build(["qemu-frozen"])  # make is incremental: the frozen modules follow lib/
        out = os.path.join(tmp, "qemu-%s" % kind)
        wl = os.path.join(out, "wl")
        os.makedirs(wl)
        deploy.compile_one(WORKLOAD, os.path.join(wl, "mpy_footprint.mpy"), "armv7m", opt=0)
        image = None
        if kind != "frozen":
            deploy.build(BOARD, out, quiet=True)
        if kind == "romfs":
            image = romfs_image(out, os.path.join(tmp, "uedge.romfs"))
        self.board = qemu_board.QemuBoard(frozen=frozen, heap=0, romfs=image)
        self.port = self.board.start()
        if kind == "mpy":
            deploy.flash(BOARD, self.port, out, reset="soft")
        self._mp("fs", "mkdir", ":lib")
        self._mp("fs", "cp", os.path.join(wl, "mpy_footprint.mpy"), ":lib/mpy_footprint.mpy")
        self.runs = 0
        self.hw = 0
        self.harness = harness_bytes(lambda code: "\n".join(self._mp("exec", code)))

    def _mp(self, *args):
        r = subprocess.run([deploy.tool("mpremote"), "connect", self.port] + list(args),
                           capture_output=True, text=True, timeout=900)
        return r.stdout.splitlines()

    def probe(self, heap, phase="run", exact=False):
        self.runs += 1
        code = ("import machine\nmachine.mem32[0x%x] = 0x%x\nmachine.mem32[0x%x] = %d\n"
                % (qemu_board.SETTINGS_ADDR, qemu_board.SETTINGS_MAGIC, qemu_board.SETTINGS_ADDR + 4,
                   heap + self.harness))
        lines = self._mp("exec", code, "+", "soft-reset", "+", "exec",
                         "import mpy_footprint\nmpy_footprint.main(%r, '/ob', None, %r)" % (phase, exact))
        return parse(lines)

    def close(self):
        self.board.stop()


class Unix:
    """The workload on the 32-bit unix port (-X heapsize = the GC heap area)."""

    def __init__(self, frozen, tmp, tls=False):
        self.frozen = frozen
        self.tls = None
        # Both builds have the simulated hardware modules and the workload's
        # driver frozen in (tools/manifests/unix_board.py): on a board those are
        # C modules and app.main, in flash, so neither their code nor their
        # names take heap here either. The frozen build holds uedge too.
        target = "unix32-frozen" if frozen else "unix32-board"
        # rebuilt (incrementally) so the image holds the current sources
        self.exe = mpbuild.build([target])[target]
        self.name = "unix i686 %s" % ("frozen" if frozen else ".mpy")
        self.dir = os.path.join(tmp, target + ("-tls" if tls else ""))
        os.makedirs(self.dir)
        # MICROPYPATH replaces the default path: keep .frozen (the driver and
        # the simulated hardware; with uedge too in the frozen build)
        # The run's directory stands in for a board's filesystem root, so
        # the paths the firmware holds are as long as on a board: each
        # module's file name (interned as a qstr by the import) is
        # ./lib/uedge/... (a board's /lib/uedge/...), the queue is ./ob, the
        # token and the CA are ./token and ./ca.pem; a temporary directory's
        # absolute path would add its length to each of them.
        path = [".frozen"]
        if not frozen:
            deploy.build(BOARD, os.path.join(self.dir, "lib-build"), quiet=True)
            os.rename(os.path.join(self.dir, "lib-build", "lib"), os.path.join(self.dir, "lib"))
            path.append("./lib")
        self.env = dict(os.environ, MICROPYPATH=":".join(path))
        self.runs = 0
        self.hw = self._hw_bytes()
        self._conn = None
        if tls:
            sys.path.insert(0, os.path.join(ROOT, "tools", "connector"))
            from uedge_connector.testing import running_connector

            self._conn = running_connector(os.path.join(self.dir, "connector"), auth="token")
            c = self._conn.__enter__()
            shutil.copyfile(c.ca_path, os.path.join(self.dir, "ca.pem"))
            self.tls = ("127.0.0.1", c.mqtts_port, "footprint-%s" % target, "./token", "./ca.pem")
            self.name += " + MQTT/TLS"
        self.harness = self._harness_bytes()

    def _hw_bytes(self):
        """Heap the simulated machine/network/ntptime modules hold (Python here,
        C in a board's flash): added to -X heapsize, so each figure is the heap
        left for the firmware, as on a board."""
        code = ("import gc\ngc.collect()\na = gc.mem_alloc()\nimport mpy_footprint\ngc.collect()\n"
                "b = gc.mem_alloc()\nmpy_footprint._hw()\ngc.collect()\nprint('HW', gc.mem_alloc() - b)")
        r = subprocess.run([self.exe, "-c", code], capture_output=True, text=True, timeout=60, env=self.env,
                           cwd=self.dir)
        for line in r.stdout.splitlines():
            if line.startswith("HW "):
                return int(line.split()[1])
        raise RuntimeError("cannot measure the simulated hardware modules: %s" % (r.stderr or r.stdout))

    def _harness_bytes(self):
        """Heap the workload's own modules take (mpy_footprint, and with TLS
        mpy_footprint_tls): the bench's driver, standing in for app.main, whose
        code is loaded and counted already. Added to -X heapsize as the
        simulated hardware is, so each figure is the firmware's alone."""
        return harness_bytes(lambda code: subprocess.run(
            [self.exe, "-c", code], capture_output=True, text=True, timeout=60, env=self.env,
            cwd=self.dir).stdout, self.tls is not None)

    def probe(self, heap, phase="run", exact=False):
        self.runs += 1
        r = subprocess.run([self.exe, "-X", "heapsize=%d" % (heap + self.hw + self.harness), "-c",
                            "import mpy_footprint\nmpy_footprint.main(%r, %r, %r, %r)"
                            % ("tls" if self.tls and phase == "run" else phase, "./ob", self.tls,
                               exact)],
                           capture_output=True, text=True, timeout=600, env=self.env, cwd=self.dir)
        return parse(r.stdout.splitlines())

    def close(self):
        if self._conn is not None:
            self._conn.__exit__(None, None, None)


def measure(target, step):
    t0 = time.time()
    # the roomy run gives the allocation per pass: counted without automatic collections
    roomy = target.probe(1024 * 1024 - 4096, exact=True)
    if not roomy["ok"]:
        print("footprint: %s: the workload fails even with a 1 MB heap" % target.name)
        return None
    heap = search(target.probe, 16 * 1024, 1024 * 1024 - 4096, step)
    # near the limit success is not monotonic in the heap size (where earlier
    # collections fell decides whether a block is left): the steps just above
    # the figure are tried too, and a failure there is printed with it
    above = [h for h in (heap + step, heap + 2 * step) if not target.probe(h)["ok"]]
    # where the heap runs out one step below: what the next cut has to make room for
    below = target.probe(heap - step)
    load = search(lambda h: target.probe(h, "load"), 8 * 1024, heap, step)
    return {"heap": heap, "load": load, "roomy": roomy, "runs": target.runs, "s": time.time() - t0,
            "above": above, "below": below.get("error") or ("ok" if below["ok"] else "incomplete")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--step", type=int, default=1024, help="heap search resolution in bytes")
    p.add_argument("--only", default="mpy,frozen,romfs,unix,tls", help="comma list of: mpy, frozen, romfs, unix, tls")
    p.add_argument("--opt", default=str(deploy.OPT[0]),
                   help="mpy-cross -O level of the board's .mpy files (deploy.py --opt, default %d)" % deploy.OPT[0])
    a = p.parse_args(argv)
    deploy.set_opt(a.opt)
    print("footprint: .mpy files compiled with mpy-cross -O%d" % deploy.OPT[0])
    want = set(a.only.split(","))
    print("footprint: standard workload (%s); modules a board holds: %d (%s ...)"
          % ("16 channels, 10 simulated minutes, 1 minute offline then replayed", len(modules()),
             ", ".join(modules()[:4])))
    tmp = tempfile.mkdtemp(prefix="uedge-footprint-")
    figures = {}
    try:
        kinds = [("mpy", Qemu, "mpy", "mcu.heap.mpy"), ("frozen", Qemu, "frozen", "mcu.heap.frozen"),
                 ("romfs", Qemu, "romfs", "mcu.heap.romfs"),
                 ("unix", Unix, False, None), ("unix", Unix, True, None),
                 ("tls", Unix, False, "mcu.heap.mpy_tls"), ("tls", Unix, True, "mcu.heap.frozen_tls")]
        for key, cls, frozen, fig in kinds:
            if key not in want:
                continue
            t = cls(frozen, tmp, tls=True) if key == "tls" else cls(frozen, tmp)
            try:
                m = measure(t, a.step)
            finally:
                t.close()
            if m is None:
                return 1
            r = m["roomy"]
            print("footprint: %-26s smallest heap %7d B (import only %7d B); workload modules %d B, not counted; "
                  "live after setup %s B, peak live %s B, alloc/pass %s B; %d runs, %.0f s%s"
                  % (t.name, m["heap"], m["load"], t.harness, r["loaded"], r["live_peak"],
                     r["alloc_per_cycle"], m["runs"], m["s"],
                     "; simulated hardware modules %d B, not counted" % t.hw if getattr(t, "hw", 0) else ""))
            print("footprint: %-26s at %d B: %s" % (t.name, m["heap"] - a.step, m["below"][:300]))
            if m["above"]:
                print("footprint: %-26s note: fails again at %s B (success is not monotonic near the limit)"
                      % (t.name, ", ".join(str(h) for h in m["above"])))
            if fig:
                figures[fig] = m["heap"]
            if key == "unix" and not frozen:
                figures["mcu.alloc_per_pass"] = int(r["alloc_per_cycle"])
                figures["mcu.heap.unix_mpy"] = m["heap"]
            if key == "unix" and frozen:
                figures["mcu.heap.unix_frozen"] = m["heap"]
        uf2 = mpbuild.built_path("rp2040")
        if uf2:
            figures["mcu.uf2"] = os.path.getsize(uf2)
            heap = mpbuild.gc_heap_bytes(os.path.join(os.path.dirname(uf2), "firmware.elf"))
            if heap:
                figures["mcu.gc_heap.rp2040"] = heap
        else:
            print("footprint: no Pico W image built yet (make firmware BOARD=rp2040): no mcu.uf2")
        for k in ("mcu.heap.mpy", "mcu.heap.frozen", "mcu.heap.romfs", "mcu.heap.mpy_tls", "mcu.heap.frozen_tls", "mcu.heap.unix_mpy", "mcu.heap.unix_frozen",
                  "mcu.alloc_per_pass", "mcu.uf2", "mcu.gc_heap.rp2040"):
            if k in figures:
                print("FIGURE %s %d B" % (k, figures[k]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
