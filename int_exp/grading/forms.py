"""Answer forms math-verify does not read as written, rewritten before it compares.

* thousands separators: ``12\\,000``, ``12{,}000``, ``12\\ 000`` (``THOUSANDS_SEP``);
* intervals written as inequalities in one variable: ``1 < x \\le 2`` is ``(1, 2]``, ``x > 3`` is
  ``(3, \\infty)``, ``x < 0 \\text{ or } x > 1`` a union (:func:`inequality_as_interval`).
"""

from __future__ import annotations

import re

# Thousands separators math-verify does not read: 12\,000, 12{,}000, 12\ 000, 12~000.
THOUSANDS_SEP = re.compile(r"(?<=\d)(?:\\,|\{,\}|\\ |\\;|\\!|~)(?=\d{3}(?!\d))")
_LESS = r"<|\\lt(?![a-zA-Z])|\\le(?:q)?(?![a-zA-Z])|\u2264"
_GREATER = r">|\\gt(?![a-zA-Z])|\\ge(?:q)?(?![a-zA-Z])|\u2265"
_RELATION = re.compile(rf"\s*({_LESS}|{_GREATER})\s*")
_VARIABLE = re.compile(r"[a-zA-Z]|\\[a-zA-Z]+")
_OR = re.compile(r"\\text\s*\{\s*or\s*\}|\\(?:lor|vee|cup)(?![a-zA-Z])|\bor\b|,\s*(?=[a-zA-Z\\]*\s*(?:<|>|\\[lg]))")


def _strict(relation: str) -> bool:
    return relation in ("<", ">") or relation.startswith(("\\lt", "\\gt"))


def _one_interval(text: str) -> str | None:
    """``1 < x \\le 2`` as ``(1, 2]``, ``x > 3`` as ``(3, \\infty)``; None if it is no such chain."""
    parts = _RELATION.split(text.strip())
    terms, relations = parts[0::2], parts[1::2]
    if len(terms) not in (2, 3) or not all(t.strip() for t in terms):
        return None
    less = [bool(re.fullmatch(_LESS, r)) for r in relations]
    if len(set(less)) != 1:
        return None  # 1 < x > 2 is no interval
    if not less[0]:  # 2 > x > 1: read it right to left
        terms, relations = terms[::-1], relations[::-1]
    var_at = [i for i, t in enumerate(terms) if _VARIABLE.fullmatch(t.strip())]
    if len(terms) == 3 and var_at != [1]:
        return None
    if len(terms) == 2 and len(var_at) != 1:
        return None
    if len(terms) == 3:
        low, high = terms[0], terms[2]
        return ("(" if _strict(relations[0]) else "[") + f"{low}, {high}" + (")" if _strict(relations[1]) else "]")
    if var_at == [0]:  # x < b
        return f"(-\\infty, {terms[1]}" + (")" if _strict(relations[0]) else "]")
    return ("(" if _strict(relations[0]) else "[") + f"{terms[0]}, \\infty)"  # a < x


def inequality_as_interval(text: str) -> str | None:
    r"""An answer written as inequalities in one variable, as interval notation, else None.

    >>> inequality_as_interval(r"1 < x \leq 2"), inequality_as_interval(r"x < 0 \text{ or } x > 1")
    ('(1, 2]', '(-\\infty, 0) \\cup (1, \\infty)')
    """
    pieces = [_one_interval(piece) for piece in _OR.split(text.replace("$", ""))]
    if not pieces or None in pieces:
        return None
    return " \\cup ".join(pieces)  # type: ignore[arg-type]




def has_inequality(text: str) -> bool:
    return bool(_RELATION.search(text))
