"""Whether an intervention gives the final answer away (:func:`leaks_answer`).

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
from decimal import Decimal, InvalidOperation

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
        return bool(grading.answers_equivalent(pred, gold))
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
