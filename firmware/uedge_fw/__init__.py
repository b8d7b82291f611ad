"""uedge firmware for MicroPython boards (ESP32, RP2040): board glue around the portable core."""
