# uedge boot: pick the application version to run (OTA), before main.py imports it.
# Kept tiny and stable: OTA bundles replace the library, never this file.
import gc
import sys

try:
    from uedge.ota import updater

    _dir = updater.boot_select("", log=print)
    if _dir:
        sys.path.insert(0, _dir)
        print("boot: running", _dir)
    # the selected version's own uedge package is imported from here on
    for _m in [m for m in sys.modules if m == "uedge" or m.startswith("uedge.")]:
        del sys.modules[_m]
except Exception as e:
    print("boot: version selection failed:", e)
gc.collect()
