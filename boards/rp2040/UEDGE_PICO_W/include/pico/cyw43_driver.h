// Forwards to pico-sdk's pico/cyw43_driver.h (see ../../mpconfigboard.cmake).
#include UEDGE_SDK_CYW43_DRIVER_H
