# uedge virtual board: qemu-system-arm -machine mps2-an385 (ARM Cortex-M3, 4 MB RAM).
# Build: python tools/mpbuild.py build qemu  (make -C ports/qemu BOARD_DIR=<this dir>)
# Configured as the uedge boards run: rp2's 8 KB stack, single-precision floats,
# littlefs on a flash-like block device, ROMFS, time.gmtime/time_ns, os.urandom.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an385

CFLAGS += -mthumb -mcpu=cortex-m3 -mfloat-abi=soft
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M3"'
CFLAGS += -include $(BOARD_DIR)/mpconfigboard.h
CFLAGS += -DMICROPY_PY_TIME_INCLUDEFILE='"$(BOARD_DIR)/modtime_board.c"'

LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
SRC_C += $(BOARD_DIR)/board.c shared/timeutils/timeutils.c shared/netutils/netutils.c
MPY_CROSS_FLAGS += -march=armv7m

# ROMFS partition in the machine's 16 MB PSRAM (mpremote romfs deploy writes it,
# qemu -device loader can preload an image).
MICROPY_HW_ROMFS_PART0_START = 0x21000000
MICROPY_HW_ROMFS_PART0_SIZE = 0x00400000

# GC heap area: big enough for the footprint search; the usable heap of a run is
# set at boot (see board.c: heap setting word) without rebuilding.
MICROPY_HEAP_SIZE ?= 1048576
# rp2's C stack
MICROPY_STACK_SIZE ?= 8192
MICROPY_FLOAT_IMPL = float
MICROPY_VFS_LFS2 = 1

FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py
