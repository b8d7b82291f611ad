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

# Without the Bluetooth transport nothing puts pico-sdk's cyw43 driver headers on
# the include path of the driver's SPI source (cyw43_bus_pio_spi.c includes
# pico/cyw43_driver.h); include/pico/cyw43_driver.h here forwards to that one
# header only (the whole directory would shadow the port's cyw43_configport.h).
include_directories(${MICROPY_BOARD_DIR}/include)
add_compile_definitions("UEDGE_SDK_CYW43_DRIVER_H=\"${MICROPY_DIR}/lib/pico-sdk/src/rp2_common/pico_cyw43_driver/include/pico/cyw43_driver.h\"")
