// uedge Pico W: RPI_PICO_W's configuration without Bluetooth.
#define MICROPY_HW_BOARD_NAME                   "Raspberry Pi Pico W (uedge)"

#define MICROPY_PY_NETWORK 1
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT     "uedge"

// CYW43 driver configuration (WiFi over the PIO SPI bus, as RPI_PICO_W).
#define CYW43_USE_SPI (1)
#define CYW43_LWIP (1)
#define CYW43_GPIO (1)
#define CYW43_SPI_PIO (1)

#define MICROPY_HW_PIN_EXT_COUNT    CYW43_WL_GPIO_COUNT

int mp_hal_is_pin_reserved(int n);
#define MICROPY_HW_PIN_RESERVED(i) mp_hal_is_pin_reserved(i)
