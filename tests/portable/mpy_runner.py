# Runs tests/portable/test_*.py under the MicroPython unix port.
# Collects module-level functions named test_* (no arguments), like pytest does
# for the same files under CPython, and prints pytest's closing-line format.
import gc
import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = HERE + "/../.."
sys.path.insert(0, ROOT + "/lib")
sys.path.insert(0, HERE)


def main(argv):
    only = argv[1] if len(argv) > 1 else None
    names = sorted(n for n in os.listdir(HERE) if n.startswith("test_") and n.endswith(".py"))
    passed = failed = 0
    loaded = set(sys.modules)
    for fname in names:
        # each test file (and what it imports) is dropped before the next: a
        # board's heap holds one file's compiled tests, not the whole suite's
        for k in [k for k in sys.modules if k not in loaded]:
            del sys.modules[k]
        gc.collect()
        mod_name = fname[:-3]
        if only and only not in mod_name:
            continue
        try:
            mod = __import__(mod_name)
        except Exception as e:
            failed += 1
            print("ERROR importing %s:" % mod_name)
            sys.print_exception(e)
            continue
        for name in sorted(dir(mod)):
            if not name.startswith("test_"):
                continue
            fn = getattr(mod, name)
            if not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAILED %s::%s" % (mod_name, name))
                sys.print_exception(e)
    print("micropython: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


sys.exit(main(getattr(sys, "argv", None) or ["mpy_runner.py"]))  # boards may lack sys.argv
