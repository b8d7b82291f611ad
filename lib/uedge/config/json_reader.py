"""The JSON reader for configuration documents.

Written here rather than json.loads because (a) the seed's own examples carry
trailing commas, (b) json.loads silently keeps the last of two equal keys (a
duplicated channel id would vanish) and MicroPython's json has no
object_pairs_hook to catch that, and (c) errors must name a position on both
runtimes.
"""

from uedge.compat import json
from uedge.config.model import ConfigError  # noqa: F401  (re-exported)

MAX_DEPTH = 32


def _where(text, pos):
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return "at line %d column %d (char %d)" % (line, col, pos)


class _Parser:
    def __init__(self, text):
        self.s = text
        self.n = len(text)
        self.path = []
        self.channel_order = []  # keys of the top-level "channels" object, in order

    def fail(self, msg, pos):
        raise ConfigError("invalid JSON: %s %s" % (msg, _where(self.s, pos)))

    def ws(self, i):
        s = self.s
        n = self.n
        while i < n and s[i] in " \t\r\n":
            i += 1
        return i

    def value(self, i):
        """The value at i and the index after it. Iterative: containers are kept
        on a list, not the call stack, so the nesting limit does not depend on
        the C stack of the board (8 KB on rp2 holds about 30 Python frames)."""
        s = self.s
        n = self.n
        stack = []
        while True:
            i = self.ws(i)
            if i >= n:
                self.fail("unexpected end of text", i)
            c = s[i]
            if c == "{" or c == "[":
                if len(stack) >= MAX_DEPTH:
                    self.fail("nesting deeper than %d" % MAX_DEPTH, i + 1)
                i = self.ws(i + 1)
                if c == "{":
                    if i < n and s[i] == "}":
                        v = {}
                        i += 1
                    else:
                        stack.append({})
                        i = self.key(i, stack[-1], len(stack))
                        continue
                elif i < n and s[i] == "]":
                    v = []
                    i += 1
                else:
                    stack.append([])
                    self.path.append("[]")
                    continue
            else:
                v, i = self.scalar(i, c)
            # a complete value v: put it into the open container, close what ends here
            while True:
                if not stack:
                    return v, i
                top = stack[-1]
                is_obj = isinstance(top, dict)
                if is_obj:
                    top[self.path.pop()] = v
                else:
                    top.append(v)
                i = self.ws(i)
                if i >= n:
                    self.fail("unexpected end of text", i)
                c = s[i]
                close = "}" if is_obj else "]"
                if c != close:
                    if c != ",":
                        self.fail("expected ',' or '%s'" % close, i)
                    i = self.ws(i + 1)
                    if i >= n or s[i] != close:  # not a trailing comma: the next member
                        if is_obj:
                            i = self.key(i, top, len(stack))
                        break
                v = stack.pop()
                if not is_obj:
                    self.path.pop()
                i += 1

    def key(self, i, out, depth):
        """A member's key and ':' at i (in object out, nesting depth); its key is
        pushed onto the path; returns the index of its value."""
        s = self.s
        i = self.ws(i)
        if i >= self.n or s[i] != '"':
            self.fail("expected a string key", i)
        kpos = i
        key, i = self.string(i + 1)
        if key in out:
            if self.path == ["channels"]:
                raise ConfigError("duplicate channel id %s %s" % (json.dumps(key), _where(s, kpos)))
            where = ".".join(self.path)
            raise ConfigError(
                "duplicate key %s%s %s"
                % (json.dumps(key), (" in " + where) if where else "", _where(s, kpos))
            )
        i = self.ws(i)
        if i >= self.n or s[i] != ":":
            self.fail("expected ':'", i)
        if depth == 2 and self.path == ["channels"]:
            self.channel_order.append(key)
        self.path.append(key)
        return i + 1

    def scalar(self, i, c):
        if c == '"':
            return self.string(i + 1)
        if c == "t" and self.s.startswith("true", i):
            return True, i + 4
        if c == "f" and self.s.startswith("false", i):
            return False, i + 5
        if c == "n" and self.s.startswith("null", i):
            return None, i + 4
        if c == "-" or "0" <= c <= "9":
            return self.number(i)
        self.fail("unexpected character %s" % json.dumps(c), i)

    def string(self, i):
        s = self.s
        n = self.n
        start = i
        parts = None
        while True:
            j = i
            while j < n:
                c = s[j]
                if c == '"' or c == "\\" or c < " ":
                    break
                j += 1
            if j >= n:
                self.fail("unterminated string", start - 1)
            c = s[j]
            if c == '"':
                if parts is None:
                    return s[start:j], j + 1
                parts.append(s[i:j])
                return "".join(parts), j + 1
            if c != "\\":
                self.fail("control character in string", j)
            if parts is None:
                parts = []
            parts.append(s[i:j])
            if j + 1 >= n:
                self.fail("unterminated string", start - 1)
            e = s[j + 1]
            i = j + 2
            if e == "u":
                cp = self.hex4(i)
                i += 4
                if 0xD800 <= cp < 0xDC00 and s.startswith("\\u", i):
                    lo = self.hex4(i + 2)
                    if 0xDC00 <= lo < 0xE000:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                if 0xD800 <= cp < 0xE000:
                    cp = 0xFFFD  # lone surrogate: not representable on MicroPython
                parts.append(chr(cp))
            else:
                k = '"\\/bfnrt'.find(e)
                if k < 0:
                    self.fail("invalid escape", j)
                parts.append('"\\/\b\f\n\r\t'[k])

    def hex4(self, i):
        h = self.s[i : i + 4]
        if len(h) != 4:
            self.fail("invalid \\u escape", i)
        v = 0
        for c in h:
            d = "0123456789abcdef".find(c.lower())
            if d < 0:
                self.fail("invalid \\u escape", i)
            v = v * 16 + d
        return v

    def digits(self, j, start):
        """End of the run of digits at j; none there makes the number at start invalid."""
        k = j
        while j < self.n and "0" <= self.s[j] <= "9":
            j += 1
        if j == k:
            self.fail("invalid number", start)
        return j

    def number(self, i):
        s = self.s
        n = self.n
        j = i
        if s[j] == "-":
            j += 1
        k = j
        j = self.digits(j, i)
        if s[k] == "0" and j - k > 1:
            self.fail("invalid number", i)
        is_float = False
        if j < n and s[j] == ".":
            j = self.digits(j + 1, i)
            is_float = True
        if j < n and s[j] in "eE":
            j += 1
            if j < n and s[j] in "+-":
                j += 1
            j = self.digits(j, i)
            is_float = True
        txt = s[i:j]
        if is_float:
            v = float(txt)
            if v - v != 0:  # inf: JSON cannot carry it back out
                self.fail("number out of range", i)
            return v, j
        return int(txt), j


def loads(text):
    """Parse JSON text, tolerating trailing commas, rejecting duplicate keys."""
    return parse_ordered(text)[0]


def parse_ordered(text):
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except Exception:
            raise ConfigError("invalid JSON: not UTF-8 text") from None
    if not isinstance(text, str):
        from uedge.config.fields import type_name

        raise ConfigError("invalid JSON: expected text, got %s" % type_name(text))
    p = _Parser(text)
    v, i = p.value(0)
    i = p.ws(i)
    if i != p.n:
        p.fail("extra data after the value", i)
    return v, p.channel_order
