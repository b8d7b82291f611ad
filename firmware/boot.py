# uedge boot: pick the application version to run (OTA), before main.py imports it.
# Kept tiny and stable: OTA bundles replace the library, never this file.
import gc
import sys


def _select():
    from uedge.ota import has_state

    if not has_state():
        # no ota.json: no update was ever installed, the factory image runs
        # and the updater's code is not loaded at all
        return ""
    from uedge.ota import updater

    return updater.boot_select("", log=print)


try:
    _dir = _select()
    if _dir:
        sys.path.insert(0, _dir)
        print("boot: running", _dir)
    # the selected version's own uedge package is imported from here on
    for _m in [m for m in sys.modules if m == "uedge" or m.startswith("uedge.")]:
        del sys.modules[_m]
except Exception as e:
    print("boot: version selection failed:", e)
gc.collect()
