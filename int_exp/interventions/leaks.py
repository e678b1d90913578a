r"""Whether an intervention gives the final answer away (:func:`leaks_answer`): judged by value.

An intervention leaks when it states an expression equal to the final answer. The answer is read
once (``\boxed{}``, ``$``, ``\text{}``, units, ``^\circ``, ``\%``, ``\$`` and thousands separators
``,`` ``\,`` ``{,}`` stripped) as one of three kinds:

* **a number** (``12000``, ``-3``, ``0.5``, ``\frac{1}{2}``, ``75\%``, ``5\text{ cm}``): every
  number the content states (``1/2``, ``0.5``, ``\tfrac12``, ``12\,000``, ``75%``, ``5cm``) is
  compared exactly (rationals), and every compound expression (a side of ``=``, ``<``,
  ``\approx``...: ``2+3``, ``\sqrt{4}``) by value (a small exact evaluator, else the grader);
* **words** (``\text{Monday}``, ``yes``): a whole-word, case-insensitive match;
* **an expression** (``3\sqrt{2}``, ``(1,2)``, ``x+1``, ``\pi``): a whole-token match of the
  written answer, and every side of a relation compared by the grader's equivalence.

A number only part of a larger expression does not count: under a root, a numerator or
denominator, an exponent or index, negated (``-2`` is not ``2``; ``5-2`` still states ``2``), a
coefficient glued to a variable or a constant (``2x``, ``4\pi``), a function's argument
(``\sin 30^\circ``), a digit of a longer number (``12``, ``2.5``, ``2,000``), or a step reference
("Substep 2", "steps 2 and 3"). Grader verdicts are cached; interventions are short, so a check
costs microseconds for numbers and a few grader calls for expressions. An empty answer never
leaks.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from int_exp.grading.answers import unwrap_boxed
from int_exp.grading.forms import THOUSANDS_SEP  # the grader's own rule (light: re only)

# ------------------------------------------------------------------------------------------------
# Normalisation shared by answers and contents
# ------------------------------------------------------------------------------------------------

_DELIMS = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\[,;:! ]")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")


def _normalise(text: str) -> str:
    text = text.replace("\u2212", "-").replace("\u00b0", "^\\circ").replace("\\$", " ")
    text = THOUSANDS_SEP.sub("", text)
    text = _TEXT_CMD.sub(r" \1 ", text)
    text = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", text)
    text = _DELIMS.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


# ------------------------------------------------------------------------------------------------
# Numbers
# ------------------------------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_FRAC_ARG = r"(?:\{\s*(\d+)\s*\}|(\d))"
_ATOM = re.compile(rf"\\frac\s*{_FRAC_ARG}\s*{_FRAC_ARG}|({_NUMBER})\s*/\s*({_NUMBER})(?![\d.])|({_NUMBER})")
_UNITS = frozenset(
    ["cm", "mm", "km", "m", "kg", "g", "mg", "lb", "lbs", "oz", "ft", "in", "inch", "inches", "yd", "mi", "mph", "kph", "km/h", "s", "sec", "secs", "min", "mins", "h", "hr", "hrs", "ml", "l", "cents", "cent", "dollars", "dollar", "percent", "degrees", "degree", "units", "unit", "feet", "foot", "meters", "metres", "miles", "hours", "minutes", "seconds", "days", "weeks", "years", "pounds", "grams", "liters", "litres", "gallons", "cups"]
)
# Commands a number glued in front of is a coefficient of (2\pi, 3\sqrt{2}) or an argument of.
_SYMBOL_CMDS = frozenset(
    ["pi", "sqrt", "theta", "alpha", "beta", "gamma", "delta", "phi", "varphi", "omega", "mu", "lambda", "sigma", "tau", "rho", "epsilon", "eta", "zeta", "xi", "psi", "chi", "kappa", "nu", "infty", "frac", "binom"]
)
_FUNCTION_BEFORE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc|log|ln|exp|lg|arcsin|arccos|arctan|sqrt)\s*$")
_GROUP_OWNER = re.compile(r"(?:\\(?:frac|sqrt|binom|overline|underline|hat|bar|vec)|[\^_}\]])\s*$")
_STEP_REFERENCE = re.compile(
    r"(?:sub-?\s*steps?|steps?|lines?|equations?|eqs?\.|cases?|parts?|#)\s*"
    r"(?:\d+\s*(?:,|and|&|-|\u2013|to|or)\s*)*#?$",
    re.IGNORECASE,
)


_WINDOW = 40  # characters of left context the number rules look at (keeps long contents linear)
_MAX_GRADER_SIDES = 64  # expressions per content sent to the grader (interventions are a few sentences)


def _to_fraction(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _atom_value(m: re.Match) -> Fraction | None:
    """The value of an :data:`_ATOM` match (``\\frac{a}{b}``, ``a/b`` or a number)."""
    if m.group(7) is not None:
        return _to_fraction(m.group(7))
    top, bottom = (m.group(1) or m.group(2), m.group(3) or m.group(4)) if m.group(1) or m.group(2) else m.group(5, 6)
    top_value, bottom_value = _to_fraction(top), _to_fraction(bottom)
    if top_value is None or not bottom_value:
        return None
    return top_value / bottom_value


def _negated(text: str, start: int) -> bool:
    """Whether the atom at ``start`` carries a unary minus (``-2``, ``x = -2``, "is -2"; not ``5-2``,
    ``x-2``): a binary minus has a number, a variable or a closing bracket on its left, not a word."""
    before = text[max(0, start - _WINDOW) : start].rstrip()
    if not before.endswith("-"):
        return False
    left = before[:-1].rstrip()
    word = re.search(r"(\\?)([A-Za-z]+)$", left)
    if word:
        return not word.group(1) and len(word.group(2)) > 1  # "is -2": unary; "x - 2", "\\pi - 2": binary
    return not (left[-1:] and (left[-1].isalnum() or left[-1] in ")}]!"))


def _bound(text: str) -> list[bool]:
    """For each character, whether it sits inside a group that binds it into a larger expression:
    the arguments of ``\\frac``, ``\\sqrt`` (and its ``[index]``), ``\\binom``, exponents and
    indices (``x^{..}``, ``a_{..}``), at any depth."""
    inside, stack = [], []
    for i, ch in enumerate(text):
        if ch == "{" or (ch == "[" and text[:i].rstrip().endswith("\\sqrt")):
            stack.append(bool(stack and stack[-1]) or ch == "[" or bool(_GROUP_OWNER.search(text[max(0, i - 16) : i])))
        elif ch in "}]" and stack:
            stack.pop()
        inside.append(bool(stack and stack[-1]))
    return inside


def _stands_alone(text: str, start: int, end: int, is_frac: bool, bound: list[bool]) -> bool:
    """Whether the number at ``text[start:end]`` is stated, not a part of a larger expression."""
    before, head = text[start - 1 : start], text[max(0, start - _WINDOW) : start]  # context is local
    if before.isalnum() or before in ("^", "_", ".", "/") or _FUNCTION_BEFORE.search(head) or bound[start]:
        return False  # x2, x^2, a_2, 0.2 (.2), x/2, \sqrt 2, \sin 30, \frac{1}{..}, \sqrt{3+2}, x^{2}
    if _STEP_REFERENCE.search(head.rstrip()[-30:]) and not head.rstrip().endswith(("=", ":")):
        return False
    return _followed_by_nothing_binding(text, end, is_frac)


def _followed_by_nothing_binding(text: str, end: int, is_frac: bool) -> bool:
    after, tail = text[end : end + 1], text[end:]
    if after == "^":
        return bool(re.match(r"\^\s*\{?\s*\\circ", tail))  # 30^\circ is degrees; 2^3 is not 2
    if after in ("/", "!", "(", "_"):
        return False
    if after.isalpha():
        word = re.match(r"[A-Za-z]+", tail).group(0)
        return not is_frac and word.lower() in _UNITS  # 5cm is stated; 2x, 2nd, 1/2bh are not
    command = re.match(r"\\([A-Za-z]+)", tail)
    return not (command and command.group(1) in _SYMBOL_CMDS)


def _stated_numbers(text: str):
    """The values of the numbers ``text`` states (signed), skipping parts of larger expressions."""
    bound = _bound(text)
    for m in _ATOM.finditer(text):
        if not _stands_alone(text, m.start(), m.end(), m.group(7) is None, bound):
            continue
        value = _atom_value(m)
        if value is not None:
            yield -value if _negated(text, m.start()) else value


_UNIT_TEXT = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\?%|\\?\$")


def _answer_number(answer: str) -> Fraction | None:
    """The answer's value when it is a number (units, degrees, percent, dollars stripped)."""
    text = _UNIT_TEXT.sub(" ", _normalise(answer)).strip()
    unit = re.search(r"(?<=[\d}])(\s*)([A-Za-z]+)(?:\s+[A-Za-z]+)*$", text)  # 5 cm, 3 dollars; not 2x
    if unit and (unit.group(2).lower() in _UNITS or (unit.group(1) and len(unit.group(2)) > 1)):
        text = text[: unit.start()]
    text = text.replace(" ", "")
    sign = Fraction(-1) if text.startswith("-") else Fraction(1)
    m = _ATOM.fullmatch(text.lstrip("-"))
    value = _atom_value(m) if m else None
    return sign * value if value is not None else None


# ------------------------------------------------------------------------------------------------
# Expressions: the sides of relations, compared by value
# ------------------------------------------------------------------------------------------------

_RELATION = re.compile(
    r"\\(?:leq?|geq?|neq?|approx|equiv|sim|Rightarrow|implies|to|rightarrow|Longrightarrow)(?![A-Za-z])|[=<>\u2264\u2265\u2248]"
)
_TOKEN = re.compile(r"\\[A-Za-z]+|\\[{}%]|\d+(?:\.\d+)?|[A-Za-z]+|\s+|.", re.DOTALL)


def _runs(text: str) -> list[str]:
    """Maximal math-looking runs of ``text``: words of two or more letters (prose), sentence
    ends and commas outside brackets break a run."""
    runs, current, depth = [], [], 0
    for tok in _TOKEN.findall(text):
        prose = (tok.isalpha() and len(tok) > 1) or tok in ("?", ";", ":")
        sentence_end = tok == "." and depth == 0 and (not current or not current[-1][-1:].isdigit())
        if prose or sentence_end or (tok == "," and depth == 0):
            runs.append("".join(current))
            current, depth = [], 0
            continue
        depth += tok in ("(", "[", "{", "\\{") and 1 or 0
        depth -= tok in (")", "]", "}", "\\}") and 1 or 0
        current.append(tok)
    runs.append("".join(current))
    return [run.strip(" .") for run in runs if run.strip(" .")]


def _sides(text: str, split: bool) -> list[str]:
    sides = []
    for run in _runs(text):
        parts = _RELATION.split(run) if split else [run]
        sides += [part.strip(" .") for part in parts if part.strip(" .")]
    return sides


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _exact(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _exact(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _exact(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_exact(node.left), _exact(node.right))
    raise ValueError("not plain arithmetic")


def _arithmetic_value(expr: str) -> Fraction | None:
    """The exact value of plain arithmetic (``12 \\times 3 - 4``, ``(2+3)/5``), else None."""
    text = re.sub(r"\\times|\\cdot|\u00d7|\*", "*", expr)
    text = re.sub(r"\\div|\u00f7", "/", text).replace("{", "(").replace("}", ")")
    if not re.fullmatch(r"[\d\s.+\-*/()]+", text) or len(text) > 200:
        return None
    try:
        return _exact(ast.parse(text, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return None


Equivalent = Callable[[str, str], bool]


def _math_equivalent(pred: str, gold: str) -> bool:
    from int_exp.grading.grader import answers_equivalent  # lazy: math-verify only when asked

    return answers_equivalent(pred, gold)


@functools.cache
def _cached(equivalent: Equivalent) -> Equivalent:
    """The grader's verdicts (gold second), cached per grader: the same sides recur."""

    @functools.lru_cache(maxsize=65536)
    def verdict(pred: str, gold: str) -> bool:
        try:
            return bool(equivalent(pred, gold))
        except Exception:  # noqa: BLE001 - a grader failure is "not shown equivalent"
            return pred.replace(" ", "") == gold.replace(" ", "")

    return verdict


def _compound(side: str) -> bool:
    """A side worth evaluating against a numeric answer: an operation on numbers, no variables."""
    letters = re.sub(r"\\[A-Za-z]+", "", side)
    return bool(re.search(r"\d", side)) and not re.search(r"[A-Za-z]", letters) and bool(
        re.search(r"[-+*/^!]|\\(?:sqrt|frac|times|cdot|div)", side))


# ------------------------------------------------------------------------------------------------
# Words and written tokens
# ------------------------------------------------------------------------------------------------


def _answer_words(answer: str) -> str | None:
    text = _normalise(answer)
    return text if re.fullmatch(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", text) else None


def _token_pattern(answer: str) -> re.Pattern:
    """``answer`` with free whitespace around symbols, required between two word characters."""
    parts = []
    for i, c in enumerate(answer):
        if c.isspace():
            continue
        if parts:
            prev = answer[:i].rstrip()[-1]
            parts.append(r"\s+" if prev.isalnum() and c.isalnum() and answer[i - 1].isspace() else r"\s*")
        parts.append(re.escape(c))
    return re.compile("".join(parts))


def _written(content: str, answer: str) -> bool:
    """Whether ``answer`` is written in ``content`` as a whole token, not inside a larger one."""
    bound = _bound(content)
    for m in _token_pattern(answer).finditer(content):
        start, end = m.start(), m.end()
        before, after = content[start - 1 : start], content[end : end + 1]
        first, last = answer[0], answer[-1]
        if (first.isalnum() or first == "\\") and (before.isalnum() or before in ("\\", "_", "^")):
            continue
        if bound[start]:
            continue
        if _negated(content, start) or (last.isalnum() and after.isalnum()) or after == "^":
            continue
        if after == ")" and content[end + 1 : end + 2] == "^":
            continue  # (x^2+1)^2
        return True
    return False


# ------------------------------------------------------------------------------------------------
# The check
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    text: str  # normalised, for written matches and the grader
    number: Fraction | None
    words: str | None

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def of(cls, answer: str) -> _Answer:
        answer = unwrap_boxed(answer)
        text = _normalise(answer).rstrip(".").strip()
        return cls(text, _answer_number(answer) if text else None, _answer_words(answer) if text else None)


def _number_leak(content: str, gold: _Answer, equivalent: Equivalent) -> bool:
    if any(value == gold.number for value in _stated_numbers(content)):
        return True
    for side in _sides(content, split=True)[: _MAX_GRADER_SIDES * 4]:
        if _compound(side) and not _ATOM.fullmatch(side.lstrip("- ")):  # lone numbers: done above
            value = _arithmetic_value(side)
            if value == gold.number if value is not None else equivalent(side, gold.text):
                return True
    return False


def _expression_leak(content: str, gold: _Answer, equivalent: Equivalent) -> bool:
    if _written(content, gold.text):
        return True
    split = not _RELATION.search(gold.text)  # an answer like "1 < x < 2" is compared whole
    sides = [side for side in _sides(content, split) if side != gold.text][:_MAX_GRADER_SIDES]
    return any(equivalent(side, gold.text) for side in sides)


def leaks_answer(content: str, answer: str, equivalent: Equivalent | None = None) -> bool:
    """Whether the intervention ``content`` states an expression equal to the final ``answer``
    (the module doc's rules). An empty answer never leaks. ``equivalent(pred, gold)`` is the
    problem's domain's answer check (the math grader by default)."""
    if content is None or answer is None:
        return False
    gold = _Answer.of(str(answer))
    if not gold.text:
        return False
    text = _normalise(str(content))
    if gold.number is not None:
        return _number_leak(text, gold, _cached(equivalent or _math_equivalent))
    if gold.words is not None:
        return bool(re.search(rf"(?<![A-Za-z]){re.escape(gold.words)}(?![A-Za-z])", text, re.IGNORECASE))
    return _expression_leak(text, gold, _cached(equivalent or _math_equivalent))
