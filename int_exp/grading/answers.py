r"""The answer convention every builtin domain shares: the final answer in ``\boxed{...}``.

One reader of boxes for the graders, the data sources, the arith step checker and the leak
filter: :func:`boxed_spans` finds every box with matched braces (escaped braces and other
backslash pairs do not count), :func:`extract_boxed` is the last box's content and
:func:`last_boxed` also accepts MATH's brace-less ``\boxed 2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BARE_BOX = re.compile(r"\\boxed\s+([^\s$\\{}]+)")


@dataclass(frozen=True)
class BoxSpan:
    start: int  # where ``\boxed`` begins
    end: int  # one past the closing brace (the end of the text when unclosed)
    inner: str  # the content between the braces (not stripped)
    closed: bool


def boxed_spans(text: str) -> list[BoxSpan]:
    r"""Every ``\boxed{...}`` / ``\fbox{...}`` of ``text`` in order, braces matched.

    >>> [s.inner for s in boxed_spans(r"\boxed{\frac{1}{2}} and \fbox{3}")]
    ['\\frac{1}{2}', '3']
    >>> boxed_spans(r"\boxed{1")[0].closed
    False
    """
    spans = []
    for match in _BOX_OPEN.finditer(text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            if text[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        closed = depth == 0
        spans.append(BoxSpan(match.start(), min(i, len(text)), text[match.end() : i - 1 if closed else len(text)], closed))
    return spans


def extract_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\boxed {...}``, ``\fbox{...}``) in ``text``.

    Braces are matched, so nested groups survive; escaped braces (``\{``, ``\}``) and other
    backslash pairs (``\\``) do not count. None when there is no box or the last one is never
    closed (a truncated output).

    >>> extract_boxed(r"so $x = \boxed{1}$, no wait, $\boxed{\frac{1}{2}}$")
    '\\frac{1}{2}'
    >>> extract_boxed(r"\boxed{\{1, 2\}}")
    '\\{1, 2\\}'
    >>> extract_boxed("no box") is None, extract_boxed(r"\boxed{\frac{1}{2}") is None
    (True, True)
    """
    if not isinstance(text, str):
        return None
    spans = boxed_spans(text)
    return spans[-1].inner.strip() if spans and spans[-1].closed else None


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}``, or of a brace-less ``\boxed 2`` when that comes
    later (a few MATH solutions); None without a box.

    >>> last_boxed(r"\boxed{1} then \boxed 2.")
    '2'
    """
    spans = boxed_spans(text)
    bare = None
    for bare in _BARE_BOX.finditer(text):
        pass
    if bare is not None and (not spans or bare.start() > spans[-1].start):
        return bare.group(1).rstrip(".")
    return spans[-1].inner.strip() if spans and spans[-1].closed else None


def unwrap_boxed(answer: str) -> str:
    r"""A gold answer written as one whole box, unwrapped: ``\boxed{12}`` gives ``12``."""
    spans = boxed_spans(answer)
    if len(spans) == 1 and spans[0].closed and not answer[: spans[0].start].strip() and not answer[spans[0].end :].strip():
        return spans[0].inner.strip()
    return answer
