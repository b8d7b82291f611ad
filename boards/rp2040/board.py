"""Board profile: Raspberry Pi Pico W (RP2040 + CYW43439 WiFi).

Pin names here are what config_io's app_specific_config.pin refers to
(application "Onboard"), so a channel config never carries GPIO numbers.
"""

NAME = "rp2040"
DESCRIPTION = "Raspberry Pi Pico W"
ARCH = "armv6m"  # mpy-cross -march
BUNDLE_NAME = "uedge-rp2040"  # OTA manifest name: uedge-rp2040-<version>.json

# Digital pins: name -> machine.Pin id.  GP23/24/25/29 belong to the radio.
def pins():
    """Digital pin name -> machine.Pin id, built when asked (an Onboard source
    keeps it): no table of 24 names held in the heap from import on."""
    t = {"LED": "LED"}  # the on-board LED sits on the radio chip: Pin("LED")
    for n in range(0, 23):
        t["GP%d" % n] = n
    return t


# ADC inputs: name -> GPIO number, or "ch<n>" for an internal ADC channel.
ADC = {"A0": 26, "A1": 27, "A2": 28, "TEMP": "ch4"}
ADC_VREF = 3.3
ADC_ATTEN = None

# Status LED (see docs/firmware.md for the patterns).
LED = "LED"
LED_ACTIVE_LOW = False

# UARTs for Modbus RTU (config_io interface name -> hardware).  de: the RS-485
# driver-enable pin (MAX485 DE+/RE tied together), None for auto-direction
# transceivers.
UARTS = {
    "UART0": {"id": 0, "tx": 0, "rx": 1, "de": None},
    "UART1": {"id": 1, "tx": 4, "rx": 5, "de": 6},
}
RTU_DEFAULT = "UART1"

WDT_TIMEOUT_MS = 8000  # the RP2040 watchdog tops out at 8.3 s
SAFE_PIN = 22  # GP22 to GND at power-up: REPL only, application not started
HAS_WLAN = True
ETHERNET = None  # no wired interface on the Pico W
