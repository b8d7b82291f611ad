# uedge firmware for the Raspberry Pi Pico W: MicroPython's RPI_PICO_W board
# without Bluetooth (uedge does not use it; btstack allocates from the GC heap
# and takes flash), with lib/uedge + firmware/uedge_fw + boards/rp2040/board.py
# frozen in (manifest.py).  Build: make firmware BOARD=rp2040.
set(PICO_BOARD "pico_w")

set(MICROPY_PY_LWIP ON)
set(MICROPY_PY_NETWORK_CYW43 ON)

set(MICROPY_PY_BLUETOOTH OFF)
set(MICROPY_BLUETOOTH_BTSTACK OFF)
set(MICROPY_PY_BLUETOOTH_CYW43 OFF)

set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)

if(NOT DEFINED MICROPY_HW_FLASH_STORAGE_BYTES)
    set(MICROPY_HW_FLASH_STORAGE_BYTES 868352)  # 848 KB littlefs, as RPI_PICO_W
endif()
