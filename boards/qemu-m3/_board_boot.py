# qemu-m3 boot: mount littlefs on the flash-like block device at /, as a board's
# _boot.py does with its internal flash (format on first boot).  The qemu
# port goes to the REPL next; it does not run boot.py or main.py itself.
import sys

import vfs

import _board

_bdev = _board.Flash()
try:
    vfs.mount(vfs.VfsLfs2(_bdev, progsize=256), "/")
except OSError:
    vfs.VfsLfs2.mkfs(_bdev, progsize=256)
    vfs.mount(vfs.VfsLfs2(_bdev, progsize=256), "/")
del _bdev

sys.path.append("/lib")  # as rp2/esp32: ["", ".frozen", "/lib"]
del sys
