# ruff: noqa: F821  (include/package/module/require are provided by the MicroPython manifest loader)
# Frozen into the uedge Pico W image.  Paths are relative to this file.
include("$(PORT_DIR)/boards/manifest.py")  # the rp2 port's own modules (rp2, asyncio, ...)
require("ntptime")  # uedge_fw.net sets the clock with it
package("uedge", base_path="../../../lib")
package("uedge_fw", base_path="../../../firmware")
module("board.py", base_path="..")
