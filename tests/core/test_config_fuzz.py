"""Random JSON and mutations of valid configs: a ConfigIO/ConfigApplications or
a ConfigError, never any other exception."""

import copy
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uedge.config.config_applications import ConfigApplications, parse_config_applications
from uedge.config.config_io import ConfigIO, parse_config_io
from uedge.config.json_reader import ConfigError, loads

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "portable", "data")


def _seed(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


SEED_IO = loads(_seed("seed_config_io_full.json"))
SEED_APPS = loads(_seed("seed_config_applications.json"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
    st.sampled_from(["MIN", "MAX", "AVG", "ACT", "MEAN", "BOOLEAN", "Simulated", "/dev/tty0", ""]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=20,
)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(doc, prefix=()):
    out = [prefix]
    if isinstance(doc, dict):
        for k in doc:
            out += _paths(doc[k], prefix + (k,))
    elif isinstance(doc, list):
        for i in range(len(doc)):
            out += _paths(doc[i], prefix + (i,))
    return out


IO_PATHS = [p for p in _paths(SEED_IO) if p]
APPS_PATHS = [p for p in _paths(SEED_APPS) if p]


def _mutate(doc, path, value, delete):
    doc = copy.deepcopy(doc)
    d = doc
    for k in path[:-1]:
        d = d[k]
    if delete and isinstance(d, dict):
        del d[path[-1]]
    else:
        d[path[-1]] = value
    return doc


def _check_io(doc):
    try:
        r = parse_config_io(doc)
    except ConfigError:
        return
    assert isinstance(r, ConfigIO)


def _check_apps(doc):
    try:
        r = parse_config_applications(doc)
    except ConfigError:
        return
    assert isinstance(r, ConfigApplications)
    for name in r.applications:
        for itf in r.applications[name]["interfaces"]:
            assert isinstance(r.interface_config(name, itf.get("interface")), dict)


@SETTINGS
@given(json_values)
def test_random_json_values(doc):
    _check_io(doc)
    _check_apps(doc)


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text):
    _check_io(text)
    _check_apps(text)


@SETTINGS
@given(st.sampled_from(IO_PATHS), json_values, st.booleans())
def test_mutated_seed_config_io(path, value, delete):
    doc = _mutate(SEED_IO, path, value, delete)
    _check_io(doc)
    _check_io(json.dumps(doc))


@SETTINGS
@given(st.sampled_from(APPS_PATHS), json_values, st.booleans())
def test_mutated_seed_config_applications(path, value, delete):
    _check_apps(_mutate(SEED_APPS, path, value, delete))


@SETTINGS
@given(st.integers(0, 1500), st.sampled_from(list(',:{}[]"\\ 0aetn-.')), st.booleans())
def test_mutated_seed_text(pos, ch, insert):
    text = _seed("seed_config_io_full.json")
    pos = min(pos, len(text))
    text = text[:pos] + ch + text[pos + (0 if insert else 1):]
    _check_io(text)


@SETTINGS
@given(json_values)
def test_loads_agrees_with_json_on_valid_json(doc):
    text = json.dumps(doc)
    try:
        assert loads(text) == json.loads(text)
    except ConfigError as e:
        # only rejection allowed: duplicate keys cannot come out of json.dumps; deep nesting can
        assert "nesting deeper" in str(e)
