"""Interventions: the proposer's prompts, reading its ``<intervention>`` block, and what follows.

The paper's self-verification runs as one two-turn conversation per proposal:

* turn 1 (:func:`proposer_turn1`): the problem and the high-level reference solution; the model
  solves the problem guided by the reference;
* turn 2 (:func:`proposer_turn2`): the failed attempt as numbered ``**Substep i:**`` items (steps
  are blank-line separated, :mod:`int_exp.steps`); the model verifies it against the reference,
  names the first critical error and writes one replacement step, from the student's point of
  view, as ``<intervention>{"content": ..., "location": N}</intervention>`` (N: the substep it
  replaces). The correct final answer is shown so the model can check the step does not give it
  away; :func:`leaks_answer` checks again.

:func:`parse_intervention` reads that block back, :func:`guided_attempt` splices it into the
attempt (steps 1..N-1, then the intervention) and :func:`dedupe_interventions` keeps
``intervention.per_attempt`` per failed attempt. :func:`reflect_chat` builds the self-reflection
baseline's prompt. Prompt texts are config (``conf/intervention/default.yaml``,
``conf/reflect/default.yaml``); their ``{placeholders}`` are filled by :func:`fill_template`,
which replaces only the known names: every other brace is literal, so braces in problems,
LaTeX or JSON examples are safe.

Reading model-written JSON (:func:`parse_intervention`)
------------------------------------------------------

Models write the block in many near-JSON ways; the parser is a small lenient reader (not
``json.loads``) that accepts: double- or single-quoted strings (Python dict literals), bare
keys, raw newlines and tabs inside strings, trailing or missing commas, a ```json fence or prose
around the object, extra keys, ``True``/``None``, an unquoted value such as ``Substep 3``, an
unescaped ``"`` inside a string when it is clearly not the closing quote, and a missing
``</intervention>`` at the end of the text. The LAST ``<intervention>`` block that holds an
object (or is empty) is read.

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
  command (``\\neq``, ``\\ne``, ``\\nu``, ``\\nabla``, ``\\not``, ``\\notin``, ``\\neg``, ``\\ni``, ...:
  :data:`LATEX_N_COMMANDS`). So ``x = 2.\\nThen`` and ``\\nnext`` are a newline, ``\\neq 3`` is
  ``\\neq``. (Newline + "u = x^2" and ``\\nu = x^2`` cannot be told apart; the latter wins.)
* ``\\u`` + four hex digits is a Unicode escape; any other ``\\u...`` (``\\underline``) is LaTeX;
* any other backslash (``\\(``, ``\\sqrt``, ``\\cdot``, ``\\{``, ``\\,``) is kept as written.

A LaTeX backslash written correctly as ``\\\\frac`` decodes to ``\\frac`` under the same rule.

Leaks (:func:`leaks_answer`)
----------------------------

An intervention leaks when the final answer appears in it as a whole token, or when a
``\\boxed{}`` in it is equivalent to the answer under the grader. "Whole token": after removing
``$`` and ``\\( \\) \\[ \\]``, ``\\left``/``\\right``, thin spaces, and mapping ``\\dfrac``/``\\tfrac``
to ``\\frac`` (whitespace is free around symbols, needed between two letters or digits), the
answer occurs with no letter or digit glued to either side, and, for numbers, not as part of a
longer number or a different one: not inside ``12``, ``2.5``, ``0.2``, ``2,000``, ``2/3``, ``3/2``;
not as an exponent or index (``x^2``, ``x^{2}``, ``a_2``); not negated (``-2`` does not leak
``2``, but ``5-2`` contains ``2``). ``=2.`` at the end of a sentence, ``(2)``, ``2,`` do leak.
For a numeric answer, a number with the same value in another spelling (``2.0``, ``2,000`` for
``2000``) also leaks. Matching is case-sensitive. An empty answer never leaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from int_exp.steps import STEP_SEPARATOR, join_steps, split_steps

__all__ = [
    "PARSE_REASONS",
    "TRUNCATION_MARKER",
    "dedupe_interventions",
    "fill_template",
    "guided_attempt",
    "leaks_answer",
    "number_steps",
    "parse_intervention",
    "parse_intervention_reason",
    "proposer_turn1",
    "proposer_turn2",
    "proposer_turn2_detailed",
    "reflect_chat",
]

# Reasons parse_intervention_reason gives, in the order the checks run.
PARSE_REASONS = ("ok", "no_block", "unparseable", "empty_content", "bad_location")

TRUNCATION_MARKER = "[... truncated ...]"

# LaTeX commands that begin with "n": after a backslash these are LaTeX, not a newline escape.
LATEX_N_COMMANDS = frozenset({
    "ne", "neq", "neg", "nabla", "natural", "nu", "ni", "not", "notin", "nmid", "nleq", "ngeq", "nleqq",
    "ngeqq", "nleqslant", "ngeqslant", "nless", "ngtr", "nsim", "ncong", "nequiv", "nexists", "nsubseteq",
    "nsupseteq", "nsubset", "nsupset", "nsubseteqq", "nsupseteqq", "nrightarrow", "nleftarrow",
    "nleftrightarrow", "nRightarrow", "nLeftarrow", "nLeftrightarrow", "nparallel", "nprec", "nsucc",
    "npreceq", "nsucceq", "nvdash", "nvDash", "nVdash", "nVDash", "ntriangleleft", "ntriangleright",
    "ntrianglelefteq", "ntrianglerighteq", "nshortmid", "nshortparallel", "nearrow", "nwarrow", "newline",
    "newcommand", "newpage", "noindent", "nonumber", "nobreak", "nolinebreak", "normalsize", "notag",
    "numberwithin",
})

_MAX_OBJECT_STARTS = 64  # "{" positions tried per block
_MAX_DEPTH = 32  # nesting of objects/arrays the reader follows


# --------------------------------------------------------------------------------------------
# Parsing the <intervention> block
# --------------------------------------------------------------------------------------------

_OPEN_TAG = re.compile(r"<\s*intervention\s*>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"<\s*/\s*intervention\s*>", re.IGNORECASE)


_BARE_KEY = re.compile(r"[A-Za-z_][\w\-]*")
_CLOSE_BEFORE_KEY = re.compile(r"[A-Za-z_][\w\-]*\s*:")
_CLOSE_BEFORE_VALUE = re.compile(r"(?:-?[\d.]+|true|false|null|None|True|False)\s*[,}\]]")
_CLOSE_BEFORE_QUOTED_KEY = re.compile(r"[\"'][^\"'\n]{1,40}[\"']\s*:")


_LITERALS = {"true": True, "false": False, "null": None, "none": None}


class _ParseError(Exception):
    pass


class _Reader:
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
            raise _ParseError("too deep")
        i = self.ws(i)
        if i >= self.n:
            raise _ParseError("end of text")
        c = self.s[i]
        if c == "{":
            return self.obj(i, depth + 1)
        if c == "[":
            return self.array(i, depth + 1)
        if c in "\"'":
            return self.string(i)
        return self.bare(i)

    def obj(self, i: int, depth: int) -> tuple[dict, int]:
        assert self.s[i] == "{"
        i += 1
        out: dict = {}
        while True:
            i = self.ws(i)
            if i >= self.n:
                raise _ParseError("unterminated object")
            c = self.s[i]
            if c == "}":
                return out, i + 1
            if c == ",":  # trailing, doubled or leading commas are tolerated
                i += 1
                continue
            if c in "\"'":
                key, i = self.string(i)
            else:
                m = _BARE_KEY.match(self.s, i)
                if not m:
                    raise _ParseError(f"bad key at {i}")
                key, i = m.group(0).strip(), m.end()
            i = self.ws(i)
            if i >= self.n or self.s[i] not in ":=":
                raise _ParseError(f"expected ':' at {i}")
            val, i = self.value(i + 1, depth)
            if isinstance(key, str):
                out.setdefault(key, val)  # a repeated key: the first one counts
            # members may be separated by a comma, or (leniently) by nothing

    def array(self, i: int, depth: int) -> tuple[list, int]:
        assert self.s[i] == "["
        i += 1
        out: list = []
        while True:
            i = self.ws(i)
            if i >= self.n:
                raise _ParseError("unterminated array")
            c = self.s[i]
            if c == "]":
                return out, i + 1
            if c == ",":
                i += 1
                continue
            val, i = self.value(i, depth)
            out.append(val)

    _BARE = re.compile(r"[^,{}\[\]\"'\n]+")
    _NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

    def bare(self, i: int) -> tuple[Any, int]:
        """An unquoted value: a number, true/false/null (any case), or text up to , } ] or a newline."""
        m = self._BARE.match(self.s, i)
        if not m:
            raise _ParseError(f"unexpected {self.s[i]!r} at {i}")
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
            raise _ParseError(f"bad bare value at {i}")
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
        while i < n:
            c = s[i]
            if c == "\\":
                text, i = _decode_escape(s, i)
                out.append(text)
                continue
            if c == quote and self.closes(i + 1):
                return "".join(out), i + 1
            out.append(c)
            i += 1
        raise _ParseError("unterminated string")


_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_LETTERS = re.compile(r"[A-Za-z]+")


def _decode_escape(s: str, i: int) -> tuple[str, int]:
    """Decode the backslash at ``s[i]`` per the module's rule; return (text, next index)."""
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
        if word in LATEX_N_COMMANDS:
            return "\\", i + 1
        return "\n", i + 2
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


def _find_block(text: str) -> str | None:
    """The inside of the last ``<intervention>`` block that holds an object or is empty.

    A block without a closing tag runs to the end of the text. When no block holds a ``{`` (or is
    empty), the last block is returned as is (it will not parse).
    """
    opens = list(_OPEN_TAG.finditer(text))
    if not opens:
        return None
    blocks = []
    for m in opens:
        close = _CLOSE_TAG.search(text, m.end())
        blocks.append(text[m.end() : close.start() if close else len(text)])
    for block in reversed(blocks):
        if "{" in block or not _strip_fence(block).strip():
            return block
    return blocks[-1]


def _strip_fence(block: str) -> str:
    return re.sub(r"```[A-Za-z]*", "", block)


def _read_object(block: str) -> dict | None:
    """The first object in ``block`` that has a content key; else the first object; else None."""
    reader = _Reader(block)
    first = None
    starts = [m.start() for m in re.finditer(r"\{", block)][:_MAX_OBJECT_STARTS]
    for start in starts:
        try:
            obj, _ = reader.obj(start, 1)
        except (_ParseError, RecursionError, ValueError, OverflowError, IndexError):
            continue
        if _content_holder(obj) is not None:
            return obj
        if first is None:
            first = obj
    return first


def _key(obj: dict, *names: str) -> tuple[bool, Any]:
    lowered = {str(k).strip().lower(): v for k, v in reversed(list(obj.items()))}
    for name in names:
        if name in lowered:
            return True, lowered[name]
    return False, None


def _content_holder(obj: dict) -> dict | None:
    """``obj`` itself when it has a content key, or a nested object that does (one level)."""
    if _key(obj, "content")[0]:
        return obj
    for value in obj.values():
        if isinstance(value, dict) and _key(value, "content")[0]:
            return value
    return None


# "3", "Substep 3", "step #3", "3.0", "Substep 3: the division", "Substep 3 (the division)"; a second
# number anywhere ("3-4", "3.5", "3 and 4", "3 of 6") makes it ambiguous: no match.
_LOCATION = re.compile(
    r"(?:sub[\s_-]*step|step|location|line)?\s*(?:no\.?|number|#)?\s*(\d+)(?:\.0+)?"
    r"(?:\s*[.:)(,;\-\u2013\u2014]\s*[^\d]*)?",
    re.IGNORECASE,
)


def _location(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = re.sub(r"[*`_]", "", value).strip()  # **Substep 3**, `3`
        m = _LOCATION.fullmatch(text)
        if m:
            return int(m.group(1))
    return None


def parse_intervention_reason(text: str, num_steps: int) -> tuple[dict | None, str]:
    """Read the last ``<intervention>`` block: ``({"content", "location"}, "ok")`` or ``(None, reason)``.

    Reasons, checked in this order: ``no_block`` (no ``<intervention>`` tag), ``unparseable``
    (no object could be read, no ``content`` key, or content that is not text), ``empty_content``
    (empty, whitespace-only or null content, an empty block or ``{}``: the proposer judged the
    attempt correct), ``bad_location`` (missing, non-integer, or outside ``1..num_steps``).
    Content is returned stripped of surrounding whitespace. Never raises.
    """
    try:
        return _parse(text, num_steps)
    except Exception:  # noqa: BLE001 - the contract is: never raise on model output
        return None, "unparseable"


def _parse(text: Any, num_steps: Any) -> tuple[dict | None, str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return None, "no_block"
    block = _find_block(text)
    if block is None:
        return None, "no_block"
    if not _strip_fence(block).strip():
        return None, "empty_content"
    obj = _read_object(block)
    if obj is None:
        return None, "unparseable"
    if not obj:
        return None, "empty_content"
    holder = _content_holder(obj)
    if holder is None:
        return None, "unparseable"
    _, content = _key(holder, "content")
    if content is None:
        return None, "empty_content"
    if isinstance(content, bool) or not isinstance(content, (str, int, float)):
        return None, "unparseable"
    content = str(content).strip()
    if not content:
        return None, "empty_content"
    found, raw_location = _key(holder, "location", "substep", "step")
    location = _location(raw_location) if found else None
    try:
        limit = int(num_steps)
    except (TypeError, ValueError, OverflowError):
        return None, "bad_location"
    if location is None or not 1 <= location <= limit:
        return None, "bad_location"
    return {"content": content, "location": location}, "ok"


def parse_intervention(text: str, num_steps: int) -> dict | None:
    """``{"content": str, "location": int}`` from the last ``<intervention>`` block, or None.

    None when there is no block, it does not parse, its content is empty (the proposer found no
    error) or its location is not an integer in ``1..num_steps``; see
    :func:`parse_intervention_reason` for why. Never raises.
    """
    return parse_intervention_reason(text, num_steps)[0]


# --------------------------------------------------------------------------------------------
# Splicing and deduplicating
# --------------------------------------------------------------------------------------------


def guided_attempt(attempt: str, location: int, content: str) -> str:
    """Steps ``1..location-1`` of ``attempt``, then the intervention ``content`` (as given).

    Location 1 gives the content alone. Newlines inside the content are kept, so blank lines in
    it become step breaks when the result is split again.

    Raises:
        ValueError: ``location`` is not an integer in ``1..len(split_steps(attempt))`` (or 1 for
            an empty attempt).
    """
    steps = split_steps(attempt)
    if isinstance(location, bool) or not isinstance(location, int) or not 1 <= location <= max(len(steps), 1):
        raise ValueError(f"intervention location {location!r} is outside the attempt's steps 1..{len(steps)}")
    prefix = join_steps(steps[: location - 1])
    return prefix + STEP_SEPARATOR + content if prefix else content


def _intervention_of(row: Mapping) -> tuple[Any, Any]:
    intervention = row.get("intervention")
    if isinstance(intervention, Mapping):
        return intervention.get("content"), intervention.get("location")
    return row.get("content"), row.get("location")


def dedupe_interventions(rows: list[dict], per_attempt: int | None) -> list[dict]:
    """At most ``per_attempt`` interventions per (problem, incorrect_attempt), first come first kept.

    Exact duplicates (same problem, attempt, content and location) are dropped first and do not
    count towards the cap. The content and location are read from ``row["intervention"]`` when
    present, else from ``row["content"]`` / ``row["location"]``. Order is preserved; the kept rows
    are the input dicts themselves. ``per_attempt=None`` keeps every distinct intervention.
    """
    if per_attempt is not None and per_attempt < 0:
        raise ValueError(f"per_attempt must be >= 0, got {per_attempt}")
    kept: list[dict] = []
    seen: set = set()
    counts: dict = {}
    for row in rows:
        attempt_key = (row.get("problem"), row.get("incorrect_attempt"))
        content, location = _intervention_of(row)
        full_key = (*attempt_key, content, location)
        if full_key in seen:
            continue
        if per_attempt is not None and counts.get(attempt_key, 0) >= per_attempt:
            continue
        seen.add(full_key)
        counts[attempt_key] = counts.get(attempt_key, 0) + 1
        kept.append(row)
    return kept


# --------------------------------------------------------------------------------------------
# Leak check
# --------------------------------------------------------------------------------------------

_MATH_DELIMS = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\[,;:! ]")


def _normalise_math(text: str) -> str:
    text = _MATH_DELIMS.sub(" ", text)
    text = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", text)
    text = text.replace("\u2212", "-")  # unicode minus
    return re.sub(r"\s+", " ", text).strip()


def _unwrap_boxed(answer: str) -> str:
    m = re.fullmatch(r"\\boxed\s*\{(.*)\}", answer.strip(), re.DOTALL)
    return m.group(1).strip() if m else answer


def _answer_pattern(answer: str) -> re.Pattern:
    """Regex for ``answer``: free whitespace around symbols, required between two word chars."""
    chars = [c for c in answer if not c.isspace()]
    parts = []
    for i, c in enumerate(chars):
        parts.append(re.escape(c))
        if i + 1 < len(chars):
            nxt = chars[i + 1]
            # a space between two word chars in the answer ("2 x") stays required: \s+; a
            # command followed by a letter ("\pi r") too. Elsewhere whitespace is optional.
            if (c.isalnum() and nxt.isalnum()) and _had_space(answer, i):
                parts.append(r"\s+")
            elif not (c.isalnum() and nxt.isalnum()):
                parts.append(r"\s*")
    return re.compile("".join(parts))


def _had_space(answer: str, index: int) -> bool:
    """Whether the answer had whitespace after its ``index``-th non-space character."""
    seen = -1
    for pos, c in enumerate(answer):
        if not c.isspace():
            seen += 1
            if seen == index:
                return pos + 1 < len(answer) and answer[pos + 1].isspace()
    return False


def _prev_nonspace(text: str, i: int) -> str:
    i -= 1
    while i >= 0 and text[i] == " ":
        i -= 1
    return text[i] if i >= 0 else ""


def _among(char: str, chars: str) -> bool:
    return bool(char) and char in chars


def _standalone(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole token (the module doc's rule)."""
    token = text[start:end]
    before = text[start - 1] if start > 0 else ""
    before2 = text[start - 2] if start > 1 else ""
    after = text[end] if end < len(text) else ""
    first, last = token[0], token[-1]
    if first.isalnum() or first == "\\":
        if before.isalnum() or _among(before, "\\_^"):
            return False  # inside a word or a number, a command's name, x^2, a_2
        if before == "{" and before2 in ("_", "^"):
            return False  # x^{2}, a_{2}
    if first.isdigit():
        if before == "." or (before == "/" and before2.isdigit()):
            return False  # 0.2, .2, 3/2
        if before == "," and before2.isdigit() and re.match(r"\d{3}(?!\d)", text[start:]):
            return False  # the 000 of 2,000
        if before == "-":
            left = _prev_nonspace(text, start - 1)
            if not (left.isalnum() or _among(left, ")}]")):
                return False  # -2 is another number (unary minus); 5-2 still contains 2
    if first == "-" and (before.isalnum() or _among(before, ")}]")):
        return False  # x-2 does not contain the number -2
    if last.isalnum() and after.isalnum():
        return False
    if last.isdigit():
        if _among(after, "./") and text[end + 1 : end + 2].isdigit():
            return False  # 2.5, 2/3
        if after == "," and re.match(r"\d{3}(?!\d)", text[end + 1 :]):
            return False  # 2,000
    return True


_NUMBER_TOKEN = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def _as_number(text: str) -> Decimal | None:
    text = text.strip()
    if not re.fullmatch(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+", text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only numbers
        return None


def _token_leak(content: str, answer: str) -> bool:
    pattern = _answer_pattern(answer)
    pos = 0
    while True:
        m = pattern.search(content, pos)
        if not m:
            break
        if m.end() > m.start() and _standalone(content, m.start(), m.end()):
            return True
        pos = m.start() + 1
    value = _as_number(answer)
    if value is not None:
        for m in _NUMBER_TOKEN.finditer(content):
            start = m.start()
            # a leading "-" glued to a word is a binary minus: the number itself starts after it
            if content[start] == "-" and start > 0 and (content[start - 1].isalnum() or content[start - 1] in ")}]"):
                start += 1
            number = _as_number(content[start : m.end()])
            if number is not None and number == value and _standalone(content, start, m.end()):
                return True
    return False


def _boxed_contents(text: str) -> list[str]:
    """The insides of every ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) in ``text``."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1])
    return out


def _equivalent(pred: str, gold: str) -> bool:
    from int_exp import grading  # lazy: math-verify is only needed here

    try:
        if hasattr(grading, "answers_equivalent"):
            return bool(grading.answers_equivalent(pred, gold))
        return bool(grading.grade("\\boxed{" + pred + "}", gold))
    except Exception:  # noqa: BLE001 - a grader failure is "not shown equivalent"
        return _normalise_math(pred).replace(" ", "") == _normalise_math(gold).replace(" ", "")


def leaks_answer(content: str, answer: str) -> bool:
    """Whether an intervention gives away the final answer (the module doc's token rule, or a
    ``\\boxed{}`` in the content equivalent to the answer under :mod:`int_exp.grading`).

    An empty answer never leaks.
    """
    if content is None or answer is None:
        return False
    content, answer = str(content), str(answer)
    norm_answer = _normalise_math(_unwrap_boxed(answer)).rstrip(".").strip()
    if not norm_answer:
        return False
    norm_content = _normalise_math(content)
    if _token_leak(norm_content, norm_answer):
        return True
    return any(inner.strip() and _equivalent(inner, answer) for inner in _boxed_contents(content))


# --------------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------------

TURN1_FIELDS = ("problem", "reference_solution")
TURN2_FIELDS = ("numbered_attempt", "answer", "num_steps")
REFLECT_FIELDS = ("problem", "reference_solution", "attempt")


def fill_template(template: str, **values: Any) -> str:
    """``str.format`` for prompts, replacing only the given ``{name}`` placeholders.

    Every other brace is literal (LaTeX such as ``\\frac{1}{\\sqrt{2}}``, a JSON example; ``{{``
    stays ``{{``), and the substituted values are never scanned again, so braces in a problem or
    a solution cannot break anything.
    """
    if not values:
        return template
    pattern = re.compile(r"\{(" + "|".join(re.escape(name) for name in values) + r")\}")
    return pattern.sub(lambda m: str(values[m.group(1)]), template)


def _field(cfg: Any, name: str) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, Mapping):
        return cfg.get(name)
    return getattr(cfg, name, None)


def _required(cfg: Any, name: str) -> str:
    value = _field(cfg, name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"the proposer prompt config needs a non-empty '{name}' template, got {value!r}")
    return value


def number_steps(attempt: str) -> str:
    """The attempt's steps as ``**Substep 1:** ...``, ``**Substep 2:** ...``, blank-line separated."""
    return _number(split_steps(attempt))


def _number(steps: Sequence[str]) -> str:
    return STEP_SEPARATOR.join(f"**Substep {i}:** {step}" for i, step in enumerate(steps, start=1))


def proposer_turn1(problem: str, reference_solution: str, prompt_cfg: Any) -> list[dict]:
    """Turn 1: an optional system message and the user message (problem + reference solution).

    ``prompt_cfg`` is a mapping or an object (a ``PromptConfig``, a DictConfig) with ``system``
    (optional), ``turn1`` and ``turn2``; ``turn1`` may use ``{problem}`` and ``{reference_solution}``.
    """
    messages = []
    system = _field(prompt_cfg, "system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    user = fill_template(_required(prompt_cfg, "turn1"), problem=problem, reference_solution=reference_solution)
    messages.append({"role": "user", "content": user})
    return messages


def _count(count_tokens: Callable[[list[dict]], Any], messages: list[dict]) -> int:
    value = count_tokens(messages)
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        value = value["input_ids"]
    return value if isinstance(value, int) else len(value)


def _cut(text: str, keep: int) -> str:
    """The first ``keep`` characters of ``text`` and the truncation marker (``text`` if all kept)."""
    if keep >= len(text):
        return text
    return (text[:keep].rstrip() + " " + TRUNCATION_MARKER).lstrip()


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The largest x in ``lo..hi`` with ``ok(x)``, ``ok(lo)`` assumed (``ok`` monotone decreasing)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def proposer_turn2_detailed(
    chat_so_far: list[dict],
    turn1_answer: str,
    attempt: str,
    answer: str,
    prompt_cfg: Any,
    *,
    max_prompt_tokens: int | None = None,
    count_tokens: Callable[[list[dict]], Any] | None = None,
) -> tuple[list[dict], dict]:
    """:func:`proposer_turn2` with the details of any truncation.

    Returns ``(messages, info)`` with ``info``: ``truncated`` (bool), ``substeps_shown`` (whole or
    partial substeps left of the attempt), ``substeps_total``, ``attempt_chars_dropped``,
    ``turn1_chars_dropped``, ``tokens`` (the final count; None when not counted) and ``fits``
    (False when even an empty attempt and an empty turn-1 answer exceed the budget: the messages
    are then the smallest this function makes, and the caller's engine must cope).
    """
    template = _required(prompt_cfg, "turn2")
    steps = split_steps(attempt)
    total = len(steps)
    turn1_answer = "" if turn1_answer is None else str(turn1_answer)

    def build(shown: list[str], turn1: str, marker: bool = False) -> list[dict]:
        numbered = _number(shown)
        if marker:
            numbered = (numbered + STEP_SEPARATOR if numbered else "") + TRUNCATION_MARKER
        user = fill_template(template, numbered_attempt=numbered, answer=answer, num_steps=total)
        return [*(dict(m) for m in chat_so_far), {"role": "assistant", "content": turn1},
                {"role": "user", "content": user}]

    info: dict = {"truncated": False, "substeps_shown": total, "substeps_total": total,
                  "attempt_chars_dropped": 0, "turn1_chars_dropped": 0, "tokens": None, "fits": True}
    messages = build(steps, turn1_answer)
    if max_prompt_tokens is None:
        return messages, info
    if count_tokens is None:
        raise ValueError("max_prompt_tokens needs count_tokens (a callable counting a chat's prompt tokens)")

    def fits(msgs: list[dict]) -> bool:
        return _count(count_tokens, msgs) <= max_prompt_tokens

    info["tokens"] = _count(count_tokens, messages)
    if info["tokens"] <= max_prompt_tokens:
        return messages, info
    info["truncated"] = True
    attempt_chars = sum(len(step) for step in steps)

    if total and fits(build([], turn1_answer, marker=True)):
        # 1. drop trailing substeps: the most whole substeps that fit, k < total
        kept = _largest(0, total - 1, lambda k: fits(build(steps[:k], turn1_answer, marker=True)))
        # 2. then keep as many characters of the next one as fit (0: none of it)
        step = steps[kept]
        chars = _largest(0, len(step) - 1,
                         lambda c: c == 0 or fits(build([*steps[:kept], _cut(step, c)], turn1_answer)))
        if chars > 0:
            messages = build([*steps[:kept], _cut(step, chars)], turn1_answer)
        else:
            messages = build(steps[:kept], turn1_answer, marker=True)
        info["substeps_shown"] = kept + (chars > 0)
        info["attempt_chars_dropped"] = attempt_chars - sum(len(s) for s in steps[:kept]) - chars
    else:
        # 3. an empty attempt is still too long: cut the turn-1 answer too, keeping its beginning
        marker = total > 0
        keep = _largest(0, max(len(turn1_answer) - 1, 0),
                        lambda c: c == 0 or fits(build([], _cut(turn1_answer, c), marker=marker)))
        turn1 = _cut(turn1_answer, keep)
        messages = build([], turn1, marker=marker)
        info["substeps_shown"] = 0
        info["attempt_chars_dropped"] = attempt_chars
        info["turn1_chars_dropped"] = len(turn1_answer) - keep
    info["tokens"] = _count(count_tokens, messages)
    info["fits"] = info["tokens"] <= max_prompt_tokens
    return messages, info


def proposer_turn2(
    chat_so_far: list[dict],
    turn1_answer: str,
    attempt: str,
    answer: str,
    prompt_cfg: Any,
    *,
    max_prompt_tokens: int | None = None,
    count_tokens: Callable[[list[dict]], Any] | None = None,
) -> tuple[list[dict], bool]:
    """Turn 2: ``chat_so_far`` + the turn-1 answer (assistant) + the verification request (user).

    The ``turn2`` template may use ``{numbered_attempt}`` (:func:`number_steps`), ``{answer}`` (the
    correct final answer, for the no-leak self-check) and ``{num_steps}``. ``chat_so_far`` is not
    modified.

    Truncation: with ``max_prompt_tokens`` and ``count_tokens`` (a callable giving the token count
    of a chat rendered with its template AND the generation prompt; a list of ids or a
    ``BatchEncoding`` is accepted too), a prompt over budget is shortened by cutting the attempt:
    trailing substeps are dropped, then characters of the last one shown, with a
    ``[... truncated ...]`` marker; only if an empty attempt is still too long is the turn-1
    answer cut (its beginning is kept). The messages are cut, never the rendered prompt, so the
    generation prompt always ends it. ``{num_steps}`` stays the attempt's full step count.

    Returns:
        ``(messages, truncated)``; :func:`proposer_turn2_detailed` also says how much was cut.
    """
    messages, info = proposer_turn2_detailed(chat_so_far, turn1_answer, attempt, answer, prompt_cfg,
                                             max_prompt_tokens=max_prompt_tokens, count_tokens=count_tokens)
    return messages, info["truncated"]


def reflect_chat(problem: str, reference_solution: str, attempt: str, prompt: str) -> list[dict]:
    """The self-reflection baseline's chat: one user message, ``prompt`` with ``{problem}``,
    ``{reference_solution}`` and ``{attempt}`` filled in."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"reflect.prompt must be a non-empty template, got {prompt!r}")
    content = fill_template(prompt, problem=problem, reference_solution=reference_solution, attempt=attempt)
    return [{"role": "user", "content": content}]
