# ruff: noqa: F821  (include/package/module are provided by the MicroPython manifest loader)
# Freeze manifest for a custom Pico W firmware image with uedge built in:
#   cd micropython/ports/rp2 && make BOARD=RPI_PICO_W FROZEN_MANIFEST=<repo>/boards/rp2040/manifest.py
# Frozen modules cost no RAM for bytecode; OTA bundles in /apps/<version>
# still take precedence because boot.py puts them first on sys.path.
# Relative paths are relative to this file.
include("$(PORT_DIR)/boards/RPI_PICO_W/manifest.py")
package("uedge", base_path="../../lib")
package("uedge_fw", base_path="../../firmware")
module("board.py")
