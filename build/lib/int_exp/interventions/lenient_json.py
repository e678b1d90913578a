"""A lenient reader for the near-JSON objects models write inside ``<intervention>`` blocks.

Not ``json.loads``: it accepts double- or single-quoted strings (Python dict literals), bare keys,
raw newlines and tabs inside strings, trailing or missing commas, extra keys, ``True``/``None``, an
unquoted value such as ``Substep 3``, and an unescaped ``"`` inside a string when it is clearly
not the closing quote. Finding the block and the object in it is :mod:`.parsing`'s job.

Backslashes. A model writing LaTeX inside a JSON string often does not double its backslashes,
and several LaTeX commands begin with a letter that is a valid JSON escape: ``\\frac`` would
become a form feed + "rac", ``\\times`` a tab + "imes", ``\\beta`` a backspace, ``\\right`` a
carriage return, ``\\neq`` a newline + "eq". The rule, applied to every string:

* ``\\\\`` is one backslash, ``\\"``, ``\\'`` and ``\\/`` are the character (JSON as written);
* ``\\b`` and ``\\f`` are never backspace / form feed (no model means them): always a literal
  backslash (``\\beta``, ``\\binom``, ``\\frac``, ``\\forall``);
* ``\\t`` and ``\\r`` followed by a letter are LaTeX (``\\times``, ``\\text``, ``\\theta``,
  ``\\right``, ``\\rho``) and keep the backslash; followed by anything else (space, digit,
  punctuation, another backslash, the end) they are a tab / carriage return;
* ``\\n`` is a newline unless the whole run of letters after the backslash is a known LaTeX
  command (``\\neq``, ``\\ne``, ``\\nu``, ``\\nabla``, ``\\not``, ``\\notin``, ``\\nolimits``, ...:
  :data:`LATEX_N_COMMANDS`), decided by context: inside math (after an odd number of unescaped
  ``$``, or inside ``\\(...\\)`` / ``\\[...\\]``) a known command is always TeX; outside math the
  short ones that also start prose (``ne``, ``ni``, ``nu``) are a newline when "." "-" or "'"
  follows (``\\ne.g.``, ``\\ni.e.``, ``\\nu-substitution``), and every other known command stays
  TeX (``x \\neq 3`` written without dollars). So ``x = 2.\\nThen`` and ``\\nnext`` are a newline,
  ``$\\nu-1$`` is ``\\nu``. (Outside math, newline + "u = x^2" and ``\\nu = x^2`` cannot be told
  apart; the latter wins.)
* ``\\u`` + four hex digits is a Unicode escape; any other ``\\u...`` (``\\underline``) is LaTeX;
* any other backslash (``\\(``, ``\\sqrt``, ``\\cdot``, ``\\{``, ``\\,``) is kept as written.

A LaTeX backslash written correctly as ``\\\\frac`` decodes to ``\\frac`` under the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# LaTeX commands that begin with "n": after a backslash these are LaTeX, not a newline escape.
LATEX_N_COMMANDS = frozenset({
    "ne", "neq", "neg", "nabla", "natural", "nu", "ni", "not", "notin", "nmid", "nleq", "ngeq", "nleqq",
    "ngeqq", "nleqslant", "ngeqslant", "nless", "ngtr", "nsim", "ncong", "nequiv", "nexists", "nsubseteq",
    "nsupseteq", "nsubset", "nsupset", "nsubseteqq", "nsupseteqq", "nrightarrow", "nleftarrow",
    "nleftrightarrow", "nRightarrow", "nolimits", "normalfont", "nobreakspace", "notni", "nopagebreak",
    "newenvironment", "newtheorem", "nonscript", "numberline", "nLeftarrow", "nLeftrightarrow", "nparallel", "nprec", "nsucc",
    "npreceq", "nsucceq", "nvdash", "nvDash", "nVdash", "nVDash", "ntriangleleft", "ntriangleright",
    "ntrianglelefteq", "ntrianglerighteq", "nshortmid", "nshortparallel", "nearrow", "nwarrow", "newline",
    "newcommand", "newpage", "noindent", "nonumber", "nobreak", "nolinebreak", "normalsize", "notag",
    "numberwithin",
})

_MAX_DEPTH = 32  # nesting of objects/arrays the reader follows


_BARE_KEY = re.compile(r"[A-Za-z_][\w\-]*")
_CLOSE_BEFORE_KEY = re.compile(r"[A-Za-z_][\w\-]*\s*:")
_CLOSE_BEFORE_VALUE = re.compile(r"(?:-?[\d.]+|true|false|null|None|True|False)\s*[,}\]]")
_CLOSE_BEFORE_QUOTED_KEY = re.compile(r"[\"'][^\"'\n]{1,40}[\"']\s*:")


_LITERALS = {"true": True, "false": False, "null": None, "none": None}


class ParseError(Exception):
    """The text at hand is not a value this reader can make sense of."""


class LenientReader:
    """A lenient recursive-descent reader for the near-JSON models write (see the module doc)."""

    def __init__(self, text: str):
        self.s = text
        self.n = len(text)

    # -- helpers -------------------------------------------------------------------------------
    def ws(self, i: int) -> int:
        s, n = self.s, self.n
        while i < n and s[i].isspace():
            i += 1
        return i

    def value(self, i: int, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise ParseError("too deep")
        i = self.ws(i)
        if i >= self.n:
            raise ParseError("end of text")
        c = self.s[i]
        if c == "{":
            return self.obj(i, depth + 1)
        if c == "[":
            return self.array(i, depth + 1)
        if c in "\"'":
            return self.string(i)
        return self.bare(i)

    def members(self, i: int, close: str, what: str) -> Iterator[int]:
        """Positions of the members of the container opened at ``i`` (``close`` ends it); the
        generator's return value is the position after ``close``. Commas anywhere (trailing,
        doubled, leading) are tolerated, and members may also follow each other with no comma."""
        i += 1
        while True:
            i = self.ws(i)
            if i >= self.n:
                raise ParseError(f"unterminated {what}")
            if self.s[i] == close:
                return i + 1
            if self.s[i] == ",":
                i += 1
                continue
            i = yield i

    def obj(self, i: int, depth: int) -> tuple[dict, int]:
        assert self.s[i] == "{"
        out: dict = {}
        members = self.members(i, "}", "object")
        try:
            i = next(members)
            while True:
                key, i = self.key(i)
                val, i = self.value(i, depth)
                if isinstance(key, str):
                    out.pop(key, None)  # a repeated key keeps its last value (JSON semantics), in its place
                    out[key] = val
                i = members.send(i)
        except StopIteration as done:
            return out, done.value

    def key(self, i: int) -> tuple[str, int]:
        """A member's key (quoted or bare) and the position after its ``:`` (or ``=``)."""
        if self.s[i] in "\"'":
            key, i = self.string(i)
        else:
            m = _BARE_KEY.match(self.s, i)
            if not m:
                raise ParseError(f"bad key at {i}")
            key, i = m.group(0).strip(), m.end()
        i = self.ws(i)
        if i >= self.n or self.s[i] not in ":=":
            raise ParseError(f"expected ':' at {i}")
        return key, i + 1

    def array(self, i: int, depth: int) -> tuple[list, int]:
        assert self.s[i] == "["
        out: list = []
        members = self.members(i, "]", "array")
        try:
            i = next(members)
            while True:
                val, i = self.value(i, depth)
                out.append(val)
                i = members.send(i)
        except StopIteration as done:
            return out, done.value

    _BARE = re.compile(r"[^,{}\[\]\"'\n]+")
    _NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

    def bare(self, i: int) -> tuple[Any, int]:
        """An unquoted value: a number, true/false/null (any case), or text up to , } ] or a newline."""
        m = self._BARE.match(self.s, i)
        if not m:
            raise ParseError(f"unexpected {self.s[i]!r} at {i}")
        raw = m.group(0).strip()
        end = m.end()
        if self._NUMBER.fullmatch(raw):
            number = float(raw)
            return (int(number) if re.fullmatch(r"-?\d+", raw) else number), end
        lowered = raw.lower()
        if lowered in _LITERALS:
            return _LITERALS[lowered], end
        nxt = self.ws(end)
        if not raw or (nxt < self.n and self.s[nxt] not in ",}]"):
            raise ParseError(f"bad bare value at {i}")
        return raw, end

    def closes(self, j: int) -> bool:
        """Whether a quote just before ``j`` plausibly ends the string (not an unescaped inner quote)."""
        s, n = self.s, self.n
        k = self.ws(j)
        if k >= n or s[k] in "}]:":
            return True
        if s[k] == ",":
            k = self.ws(k + 1)
            if k >= n or s[k] in "\"'}]":
                return True
            return bool(_CLOSE_BEFORE_KEY.match(s, k) or _CLOSE_BEFORE_VALUE.match(s, k))
        if s[k] in "\"'":  # a missing comma before the next quoted key
            return bool(_CLOSE_BEFORE_QUOTED_KEY.match(s, k))
        return False

    def string(self, i: int) -> tuple[str, int]:
        s, n = self.s, self.n
        quote = s[i]
        i += 1
        out: list[str] = []
        math = _MathState()
        while i < n:
            c = s[i]
            if c == "\\":
                text, i = _decode_escape(s, i, math.inside)
                out.append(text)
                math.feed(text)
                continue
            if c == quote and self.closes(i + 1):
                return "".join(out), i + 1
            out.append(c)
            math.feed(c)
            i += 1
        raise ParseError("unterminated string")


class _MathState:
    """Whether the decoded text so far is inside math: ``$...$`` / ``$$...$$`` (an unescaped ``$``
    toggles, ``$$`` counts once), ``\\(...\\)`` and ``\\[...\\]``. Fed the decoded text, so it reads
    single and doubled backslashes alike."""

    def __init__(self) -> None:
        self.inside = False
        self.prev = ""

    def feed(self, text: str) -> None:
        for ch in text:
            if ch == "$" and self.prev not in ("\\", "$"):
                self.inside = not self.inside
            elif self.prev == "\\" and ch in "([":
                self.inside = True
            elif self.prev == "\\" and ch in ")]":
                self.inside = False
            self.prev = "" if self.prev == "\\" and ch == "\\" else ch  # "\\\\" is a line break, no escape


# Short n-commands that also begin prose after a newline escape: "\\ne.g.", "\\ni.e.", "\\nu-substitution".
_PROSE_AMBIGUOUS = frozenset({"ne", "ni", "nu"})


_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_LETTERS = re.compile(r"[A-Za-z]+")


def _decode_escape(s: str, i: int, in_math: bool = False) -> tuple[str, int]:
    """Decode the backslash at ``s[i]`` per the module's rule (``in_math``: the decoded text so far
    is inside math); return (text, next index)."""
    if i + 1 >= len(s):
        return "\\", i + 1
    c = s[i + 1]
    if c in "\\\"'/":
        return c, i + 2
    after = s[i + 2] if i + 2 < len(s) else ""
    if c in "tr":
        if after.isascii() and after.isalpha():
            return "\\", i + 1  # \times, \text, \right, \rho ...: LaTeX
        return ("\t" if c == "t" else "\r"), i + 2
    if c == "n":
        word = _LETTERS.match(s, i + 1).group(0)
        if word not in LATEX_N_COMMANDS:
            return "\n", i + 2
        after_word = s[i + 1 + len(word) : i + 2 + len(word)]
        if not in_math and word in _PROSE_AMBIGUOUS and after_word in (".", "-", "'", "\u2019"):
            return "\n", i + 2  # prose: "e.g.", "i.e.", "u-substitution" after a newline
        return "\\", i + 1
    if c == "u":
        hex4 = _HEX4.match(s, i + 2)
        if hex4:
            code = int(hex4.group(0), 16)
            end = i + 6
            if 0xD800 <= code < 0xDC00 and s[end : end + 2] == "\\u":  # a surrogate pair
                low = _HEX4.match(s, end + 2)
                if low and 0xDC00 <= int(low.group(0), 16) < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low.group(0), 16) - 0xDC00)
                    end += 6
            if 0xD800 <= code < 0xE000:
                return "\ufffd", end  # a lone surrogate cannot be stored as UTF-8
            return chr(code), end
        return "\\", i + 1  # \underline, \uparrow ...: LaTeX
    # \b, \f (never backspace/form feed) and anything else: a literal backslash; the next char
    # is read as ordinary text.
    return "\\", i + 1
