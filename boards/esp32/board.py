"""Board profile: ESP32 DevKitC (ESP32-WROOM-32 / -WROVER), WiFi.

Pin names here are what config_io's app_specific_config.pin refers to
(application "Onboard"), so a channel config never carries GPIO numbers.
Boards with a LAN8720 PHY (Olimex ESP32-POE, WT32-ETH01) set ETHERNET below.
"""

NAME = "esp32"
DESCRIPTION = "ESP32 DevKitC (ESP32-WROOM-32)"
ARCH = "xtensawin"  # mpy-cross -march
BUNDLE_NAME = "uedge-esp32"  # OTA manifest name: uedge-esp32-<version>.json

# Digital pins safe for general use (no strapping/flash pins).  34..39 are
# input-only.
def pins():
    """Digital pin name -> GPIO number, built when asked (an Onboard source keeps it)."""
    t = {"LED": 2}
    for n in (4, 5, 13, 14, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 39):
        t["GPIO%d" % n] = n
    return t


# ADC1 inputs only (ADC2 is unusable while WiFi is on): name -> GPIO number.
ADC = {"A0": 36, "A1": 39, "A2": 34, "A3": 35, "A4": 32, "A5": 33}
ADC_VREF = 3.3
ADC_ATTEN = "ATTN_11DB"  # full 0..3.3 V range

LED = 2
LED_ACTIVE_LOW = False

# UART2 on GPIO17/16 for Modbus RTU, DE on GPIO4 (MAX485).  UART0 is the REPL.
UARTS = {
    "UART2": {"id": 2, "tx": 17, "rx": 16, "de": 4},
    "UART1": {"id": 1, "tx": 26, "rx": 27, "de": None},
}
RTU_DEFAULT = "UART2"

WDT_TIMEOUT_MS = 30000
SAFE_PIN = 0  # hold BOOT (GPIO0) low after reset: REPL only, application not started
HAS_WLAN = True
# Wired Ethernet, e.g. Olimex ESP32-POE:
# ETHERNET = {"phy": "LAN8720", "mdc": 23, "mdio": 18, "power": 12, "phy_addr": 0, "clock": "GPIO17_OUT"}
ETHERNET = None
