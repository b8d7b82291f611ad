"""Helpers for portable tests: plain asserts that work under pytest and MicroPython."""


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raises; fail if it raises nothing."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))


def approx(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# The float type of the runtime: boards (rp2, esp32, the qemu Cortex-M3 board)
# have single-precision floats, CPython and the unix port double precision.
FLOAT32 = 1.0 + 1e-10 == 1.0 and 1e39 == float("inf")
EPS = 1e-6 if FLOAT32 else 1e-15  # relative precision a test may ask of a float
FLOAT_MAX = 3.4e38 if FLOAT32 else 1.7e308  # near the largest finite float
