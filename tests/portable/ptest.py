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
