# ruff: noqa: F821  (include/package/module are provided by the MicroPython manifest loader)
# Freeze manifest for a custom ESP32 firmware image with uedge built in:
#   cd micropython/ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=<repo>/boards/esp32/manifest.py
# Frozen modules cost no RAM for bytecode; OTA bundles in /apps/<version>
# still take precedence because boot.py puts them first on sys.path.
# Relative paths are relative to this file.
include("$(PORT_DIR)/boards/manifest.py")
package("uedge", base_path="../../lib")
package("uedge_fw", base_path="../../firmware")
module("board.py")
