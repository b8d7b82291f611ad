# ruff: noqa: F821  (include/package/module are provided by the MicroPython manifest loader)
# 32-bit unix MicroPython with uedge frozen in (tools/mpbuild.py target unix32-frozen):
# the board build without uedge (unix_board.py: the simulated hardware modules
# and the footprint bench's driver) plus what a frozen board image holds.
# Paths are relative to this file.
include("unix_board.py")
package("uedge", base_path="../../lib")
package("uedge_fw", base_path="../../firmware")
module("board.py", base_path="../../boards/rp2040")
