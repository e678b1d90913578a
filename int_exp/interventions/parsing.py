"""Reading the proposer's ``<intervention>`` block back (:func:`parse_intervention`).

The LAST ``<intervention>`` block that holds an object (or is empty) is read; a missing
``</intervention>`` at the end of the text is tolerated, and so are a ```json fence or prose
around the object. The object itself is read by :class:`~.lenient_json.LenientReader` (the
near-JSON models write, LaTeX backslashes included). The location may be written ``3``,
``"Substep 3"``, ``"step #3"``, ``3.0``...; a second number makes it ambiguous.
"""

from __future__ import annotations

import re
from typing import Any

from int_exp.interventions.lenient_json import LenientReader, ParseError

# Reasons parse_intervention_reason gives, in the order the checks run.
PARSE_REASONS = ("ok", "no_block", "unparseable", "empty_content", "bad_location")

_MAX_OBJECT_STARTS = 64  # "{" positions tried per block

_OPEN_TAG = re.compile(r"<\s*intervention\s*>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"<\s*/\s*intervention\s*>", re.IGNORECASE)


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
    reader = LenientReader(block)
    first = None
    starts = [m.start() for m in re.finditer(r"\{", block)][:_MAX_OBJECT_STARTS]
    for start in starts:
        try:
            obj, _ = reader.obj(start, 1)
        except (ParseError, RecursionError, ValueError, OverflowError, IndexError):
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


def copies_prompt(content: str, prompt_text: str, min_chars: int = 16) -> bool:
    """True when ``content`` is text of the proposer's own prompt, e.g. the format example
    ("the step the student should write instead"), which small models echo back. Short contents
    (under ``min_chars``) are never called copies: a formula may well appear in the prompt."""
    needle = " ".join(content.split()).casefold()
    return len(needle) >= min_chars and needle in " ".join(prompt_text.split()).casefold()
