# uedge main: run the application; on any error log it and restart the board cleanly.
# Safe mode: hold the board's SAFE_PIN low at power-up to get the REPL without
# starting the application (to re-flash a board whose watchdog is armed).
import sys
import time

import machine


def _safe_mode():
    try:
        import board

        pin = getattr(board, "SAFE_PIN", None)
        if pin is None:
            return False
        return machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0
    except Exception:
        return False


def _record_crash(e):
    try:
        with open("crash.txt", "w") as f:
            f.write("%s: %s\n" % (type(e).__name__, e))
            sys.print_exception(e, f)
    except Exception:
        pass


if _safe_mode():
    print("main: safe mode (SAFE_PIN held low): not starting the application")
else:
    try:
        from uedge_fw import app

        app.main()
    except Exception as e:
        print("main: application crashed, restarting:")
        sys.print_exception(e)
        _record_crash(e)
        time.sleep_ms(1000)
        machine.reset()
