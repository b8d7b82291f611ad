# ruff: noqa: F821  (module/freeze are provided by the MicroPython manifest loader)
# Frozen into every qemu-m3 image: the boot script that mounts the filesystems.
module("_board_boot.py")
