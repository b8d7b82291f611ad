# The tolerant JSON reader: trailing commas, duplicate keys, positions.
from ptest import raises

from uedge.config.json_reader import ConfigError, loads


def _err(text):
    return str(raises(ConfigError, loads, text))


def test_plain_values():
    assert loads("1") == 1
    assert loads("-0") == 0
    assert loads(" 2.5e2 ") == 250.0
    assert loads("-1.25") == -1.25
    assert loads("true") is True and loads("false") is False and loads("null") is None
    assert loads('"a\\"b\\\\c\\/d\\n\\t\\b\\f\\r"') == 'a"b\\c/d\n\t\b\f\r'
    assert loads('"\\u00e9\\u20ac"') == "\u00e9\u20ac"
    assert loads('"\\ud83d\\ude00"') == "\U0001F600"
    assert loads('{"a": [1, {"b": null}], "c": {}}') == {"a": [1, {"b": None}], "c": {}}
    assert loads(b'{"x": "\xc3\xa9"}') == {"x": "\u00e9"}


def test_trailing_commas():
    assert loads('{"a": 1,}') == {"a": 1}
    assert loads('[1, 2, ]') == [1, 2]
    assert loads('{"a": {"b": [1,],\n },\n}') == {"a": {"b": [1]}}


def test_positions_in_errors():
    assert _err('{"a" 1}') == "invalid JSON: expected ':' at line 1 column 6 (char 5)"
    assert _err('{\n  "a": 1\n  "b": 2}') == "invalid JSON: expected ',' or '}' at line 3 column 3 (char 13)"
    assert _err("") == "invalid JSON: unexpected end of text at line 1 column 1 (char 0)"
    assert _err("[1, 2") == "invalid JSON: unexpected end of text at line 1 column 6 (char 5)"
    assert _err('"abc') == "invalid JSON: unterminated string at line 1 column 1 (char 0)"
    assert _err("{} x") == "invalid JSON: extra data after the value at line 1 column 4 (char 3)"
    assert _err("[01]") == "invalid JSON: invalid number at line 1 column 2 (char 1)"
    assert _err("[1.]") == "invalid JSON: invalid number at line 1 column 2 (char 1)"
    assert _err("[1e]") == "invalid JSON: invalid number at line 1 column 2 (char 1)"
    assert _err("[-]") == "invalid JSON: invalid number at line 1 column 2 (char 1)"
    assert _err("[1e999]") == "invalid JSON: number out of range at line 1 column 2 (char 1)"
    assert _err("{,}") == "invalid JSON: expected a string key at line 1 column 2 (char 1)"
    assert _err("[,]") == 'invalid JSON: unexpected character "," at line 1 column 2 (char 1)'
    assert _err("{'a': 1}") == "invalid JSON: expected a string key at line 1 column 2 (char 1)"
    assert _err('"a\\x"') == "invalid JSON: invalid escape at line 1 column 3 (char 2)"
    assert _err('"\\u12g4"') == "invalid JSON: invalid \\u escape at line 1 column 4 (char 3)"
    assert _err('"a\nb"') == "invalid JSON: control character in string at line 1 column 3 (char 2)"
    assert _err("tru") == 'invalid JSON: unexpected character "t" at line 1 column 1 (char 0)'
    assert _err("NaN") == 'invalid JSON: unexpected character "N" at line 1 column 1 (char 0)'
    assert _err(b"\xff") == "invalid JSON: not UTF-8 text"
    assert _err(5) == "invalid JSON: expected text, got number"


def test_duplicate_keys_anywhere():
    assert _err('{"a": 1, "a": 2}') == 'duplicate key "a" at line 1 column 10 (char 9)'
    m = _err('{"channels": {"001": {"properties": {"min": 1, "min": 2}}}}')
    assert m == 'duplicate key "min" in channels.001.properties at line 1 column 48 (char 47)', m
    assert _err('{"channels": {"7": {}, "7": {}}}') == 'duplicate channel id "7" at line 1 column 24 (char 23)'
    # a key named "channels" deeper down is not the channel map
    m = _err('{"x": {"channels": {"1": 0, "1": 0}}}')
    assert m.startswith('duplicate key "1" in x.channels'), m


def test_nesting_limit():
    assert loads("[" * 32 + "]" * 32) is not None
    assert _err("[" * 40 + "]" * 40) == "invalid JSON: nesting deeper than 32 at line 1 column 34 (char 33)"
