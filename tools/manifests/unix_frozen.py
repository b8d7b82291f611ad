# ruff: noqa: F821  (include/package/module are provided by the MicroPython manifest loader)
# 32-bit unix MicroPython with uedge frozen in (tools/mpbuild.py target unix32-frozen):
# the standard unix variant's modules plus what a frozen board image holds.
# Paths are relative to this file.
include("$(PORT_DIR)/variants/standard/manifest.py")
package("uedge", base_path="../../lib")
package("uedge_fw", base_path="../../firmware")
module("board.py", base_path="../../boards/rp2040")
# the footprint workload (tools/bench/bench_footprint.py) stands in for app.main,
# which a frozen image holds in flash: frozen too, so its bytecode is not charged
# to the heap figures
module("mpy_footprint.py", base_path="../bench")
module("mpy_footprint_tls.py", base_path="../bench")
