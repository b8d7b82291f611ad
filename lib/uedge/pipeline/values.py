"""Value kinds of a channel and the rounding of reported numbers, shared by
the pipeline and control. Reading other values as a kind (text as a number,
booleans, locations, JSON) is uedge.pipeline.convert, loaded when first needed."""

from uedge.compat import MICROPYTHON

KIND_NUMBER = 0
KIND_BOOLEAN = 1
KIND_STRING = 2
KIND_JSON = 3
KIND_LOCATION = 4

_INF = float("inf")
_NINF = -_INF

# round(v, p) of a float by a multiply and an integer round, where that gives
# the same float (round_float): CPython's round(v, p) formats v to decimal and
# parses it back, about 3 times the cost. MicroPython's round(v, p) already
# multiplies (and a board's single-precision floats would need other bounds):
# the table is empty there.
_P10 = () if MICROPYTHON else (1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9)
ROUND_DIGITS = len(_P10)


def round_float(v, p):
    """round(v, p) for a float v and 0 < p < ROUND_DIGITS: the same float as
    CPython's correctly rounded result. x = v * 10**p is within half an ulp of
    the exact product; below 2**39 that is under 1e-4, so when x is more than
    1e-4 away from a half the nearest integer r of x is also that of the exact
    product, and r / 10**p (both exact floats, one correctly rounded division)
    is the float nearest to the decimal result. Otherwise (near a half, large
    magnitude, or a zero that must keep its sign): round(v, p)."""
    m = _P10[p]
    x = v * m
    if -5e11 < x < 5e11:
        r = round(x)
        d = x - r
        if r and -0.4999 < d < 0.4999:
            return r / m
    return round(v, p)


def rounded(v, p):
    """A number rounded to precision p as a report carries it (p 0: an int)."""
    if p == 0:
        return int(round(v))
    if p < ROUND_DIGITS and type(v) is float:
        return round_float(v, p)
    return round(v, p)


def kind_of(cfg):
    """Value kind from primitive_type (if given) or data_type."""
    pt = cfg.primitive_type
    dt = cfg.data_type
    if dt == "LOCATION":
        return KIND_LOCATION
    if pt == "BOOLEAN" or (pt is None and dt == "BOOLEAN"):
        return KIND_BOOLEAN
    if pt == "STRING" or (pt is None and dt == "STRING"):
        return KIND_STRING
    if pt == "JSON" or (pt is None and dt == "JSON"):
        return KIND_JSON
    return KIND_NUMBER


def is_num(v):
    return v is not True and v is not False and isinstance(v, (int, float))
