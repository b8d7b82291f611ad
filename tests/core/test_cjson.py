# uedge.cjson (uedge.compat.json on CPython) against the json package: the
# same text out, the same values in, the same refusals; and a gateway daemon
# that never loads the json package's Python modules (re, enum).
import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uedge import cjson
from uedge.compat import json as compat_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VALUES = [
    {"001": 1.5, "002": "x", "__error": {"003": "timeout: no value for 5000 ms"}},
    [1, 2.25, -0.0, 1e300, 10 ** 30, True, False, None, "é ☃ \U0001F600", "\x00\n\"\\/"],
    "a string",
    12,
    {},
    [],
    {"nested": [{"a": [[]]}, {"b": {}}], "k": "v"},
]

JSON_TEXTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


def test_compat_json_is_cjson_on_cpython():
    assert compat_json is cjson


@pytest.mark.parametrize("v", VALUES)
@pytest.mark.parametrize("sep", [None, (",", ":")])
def test_dumps_writes_what_json_writes(v, sep):
    assert cjson.dumps(v, separators=sep) == json.dumps(v, separators=sep)
    assert cjson.loads(cjson.dumps(v)) == json.loads(json.dumps(v))


@settings(max_examples=300, deadline=None)
@given(JSON_TEXTS)
def test_round_trip_matches_json(v):
    text = json.dumps(v)
    assert cjson.dumps(v) == text
    assert cjson.dumps(v, separators=(",", ":"), sort_keys=True) == json.dumps(v, separators=(",", ":"), sort_keys=True)
    assert cjson.loads(text) == v and cjson.loads(" \n" + text + "\t ") == v


def test_non_finite_numbers():
    assert cjson.dumps([math.inf, -math.inf]) == "[Infinity, -Infinity]"
    assert cjson.dumps(math.nan) == "NaN"
    with pytest.raises(ValueError):
        cjson.dumps([1.0, math.nan], allow_nan=False)
    assert cjson.dumps([1.0, 2.0], allow_nan=False) == "[1.0, 2.0]"  # the encoder is not left half-way
    got = cjson.loads("[NaN, Infinity, -Infinity]")
    assert math.isnan(got[0]) and got[1:] == [math.inf, -math.inf]


def test_default_and_circular():
    class Thing:
        def __str__(self):
            return "thing"

    assert cjson.dumps({"t": Thing()}, default=str) == '{"t": "thing"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        cjson.dumps({"t": Thing()})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        cjson.dumps(loop)
    shared = [1]
    assert cjson.dumps([shared, shared]) == "[[1], [1]]"  # shared is not circular, also after an error


@pytest.mark.parametrize("bad", ["", "   ", "[1, 2", '{"a" 1}', "{} x", "[01]", "nul", '"abc', "\ufeff{}", "1 2"])
def test_refuses_what_json_refuses(bad):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        cjson.loads(bad)


def test_bytes_indent_files(tmp_path):
    assert cjson.loads(b'{"a": [1]}') == {"a": [1]}
    assert cjson.loads(bytearray('"\u00e9"'.encode())) == "\u00e9"
    with pytest.raises(TypeError):
        cjson.loads(5)
    assert cjson.dumps({"a": 1}, indent=2) == json.dumps({"a": 1}, indent=2)
    p = tmp_path / "x.json"
    with open(p, "w") as f:
        cjson.dump({"b": [True]}, f, indent=1)
    with open(p) as f:
        assert cjson.load(f) == {"b": [True]}


def test_daemon_modules_do_not_load_the_json_package():
    # what `uedge go` imports for an MQTT gateway, then a data_in encoded and
    # an update decoded: no json package, no re
    code = (
        "import sys; sys.path[:0] = [%r, %r]\n"
        "from uedge_host import daemon, tls\n"
        "from uedge.pipeline.payload import encode_data_in\n"
        "from uedge.transport import murano_mqtt\n"
        "from uedge.sync import config_sync\n"
        "encode_data_in({'001': 1.5}, {})\n"
        "config_sync.json.loads('{\"a\": [1, 2.5, null]}')\n"
        "print(sorted(m for m in ('json', 'json.decoder', 're', 'enum') if m in sys.modules))\n"
    ) % (os.path.join(ROOT, "lib"), os.path.join(ROOT, "host"))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
