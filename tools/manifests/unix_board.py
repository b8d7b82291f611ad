# ruff: noqa: F821  (include/package/module are provided by the MicroPython manifest loader)
# 32-bit unix MicroPython as a board without uedge (tools/mpbuild.py target
# unix32-board): the standard unix variant's modules plus, frozen, what a board's
# firmware holds in flash before uedge is copied on: the simulated machine,
# network and ntptime modules (C modules on a board, so their code and names
# are not in its heap) and the footprint workload's driver, which stands in for
# app.main. tools/bench/bench_footprint.py runs the .mpy figures on it, so
# the heap holds uedge's .mpy code and names only. Paths are relative to this file.
include("$(PORT_DIR)/variants/standard/manifest.py")
module("_simhw.py", base_path="../virtual_board/mpy")
module("machine.py", base_path="../virtual_board/mpy")
module("network.py", base_path="../virtual_board/mpy")
module("ntptime.py", base_path="../virtual_board/mpy")
module("mpy_footprint.py", base_path="../bench")
module("mpy_footprint_tls.py", base_path="../bench")
