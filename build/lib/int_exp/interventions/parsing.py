"""Reading the proposer's ``<intervention>`` block back (:func:`parse_intervention`).

The rules, in the order they apply (each rejection has a reason, counted in the funnel):

1. **The final block is authoritative.** A block runs from an ``<intervention>`` tag to the next
   ``</intervention>`` (or the end of the text). The proposer writes a draft, checks it, then the
   final block: only that last block is read. When it holds nothing usable the output is
   rejected, never answered from an earlier block (a draft the model itself threw away, or the
   prompt's format example echoed back). One exception: an unclosed tag in the middle of a prose
   line ("that is my <intervention> for this attempt") is a mention, not a block.
2. **What the block holds.** Code fences are ignored. Empty, or a "no intervention" phrase
   (``None``, ``N/A``, "No intervention needed.") -> ``empty_content`` (the model found no
   error). Text with no ``{`` (prose, a markdown "**Content:** ... **Location:** 3" list) ->
   ``no_object``.
3. **Which object.** Top-level objects are read left to right by
   :class:`~.lenient_json.LenientReader` (near-JSON, LaTeX backslashes included); the last
   complete one with a ``content`` key (or one nested a level down) wins, so a draft object
   followed by the final one gives the final one. If a later object names ``content`` but cannot
   be read, the block is ``unparseable`` rather than answered by the earlier draft. A repeated
   key keeps its last value (JSON semantics).
4. **Location.** The step number must be unambiguous; the first step named counts. Each
   spelling is counted by kind (:data:`LOCATION_KINDS`): ``3`` (integer), ``"3"`` / ``3.0``
   (text_number), ``Substep 3`` / ``step #3`` / ``S3`` (label), ``[3]`` / ``(3)`` (bracketed),
   ``Before Substep 4`` (before: it replaces substep 4), ``3-4`` / ``3 to 4`` (range: 3),
   ``3, 4`` / ``3 and 4`` / ``[3, 4]`` (list: 3), ``Substep 3 (the division)`` (described).
   Rejected: ``after substep 3`` (which step is replaced?), ``2.5``, ``N``, booleans, numbers
   outside ``1..num_steps``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from int_exp.interventions.lenient_json import LenientReader, ParseError

# Reasons parse_intervention_reason gives, in the order the checks run.
PARSE_REASONS = ("ok", "no_block", "no_object", "unparseable", "empty_content", "bad_location")
LOCATION_KINDS = ("integer", "text_number", "label", "bracketed", "before", "range", "list", "described")

_MAX_OBJECT_STARTS = 64  # "{" positions tried per block

_OPEN_TAG = re.compile(r"<\s*intervention\s*>", re.IGNORECASE)
_CLOSE_TAG = re.compile(r"<\s*/\s*intervention\s*>", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*")
_CONTENT_KEY = re.compile(r"[\"']?content[\"']?\s*[:=]", re.IGNORECASE)
# What a proposer writes when it finds no error (the whole block, or the content string).
_NO_INTERVENTION = re.compile(
    r"(?:none|null|nil|n/?a|empty|\(empty\)|-+|no\s+intervention(?:\s+(?:is\s+)?needed)?|"
    r"no\s+(?:critical\s+)?errors?(?:\s+found)?|not\s+applicable|nothing(?:\s+to\s+(?:fix|change))?)[.!]?",
    re.IGNORECASE,
)
_READ_ERRORS = (ParseError, RecursionError, ValueError, OverflowError, IndexError)


@dataclass(frozen=True)
class Parsed:
    """What :func:`parse_intervention_detailed` found: the intervention (or None), why, and how
    the location was spelt (one of :data:`LOCATION_KINDS`, None when rejected)."""

    intervention: dict | None
    reason: str
    location_kind: str | None = None


def _is_mention(text: str, tag: re.Match) -> bool:
    """An unclosed tag inside a prose line: text before it on its line and text after it that
    does not start an object or a fence."""
    line_start = text.rfind("\n", 0, tag.start()) + 1
    line_end = text.find("\n", tag.end())
    before = text[line_start : tag.start()].strip()
    after = text[tag.end() : line_end if line_end >= 0 else len(text)].strip()
    return bool(before) and bool(after) and not after.startswith(("{", "`"))


def _final_block(text: str) -> str | None:
    """The inside of the last ``<intervention>`` block (mentions skipped), or None."""
    for tag in reversed(list(_OPEN_TAG.finditer(text))):
        close = _CLOSE_TAG.search(text, tag.end())
        if close is None and _is_mention(text, tag):
            continue
        return text[tag.end() : close.start() if close else len(text)]
    return None


def is_no_intervention(text: str) -> bool:
    """Whether ``text`` is what a proposer writes for "no intervention" (None, N/A, "No error found.")."""
    return bool(_NO_INTERVENTION.fullmatch(re.sub(r"[*_`\"']", "", text).strip()))


def _objects(block: str) -> list[tuple[dict, int]]:
    """Every top-level object in ``block`` that the lenient reader can read, with its end."""
    reader = LenientReader(block)
    found, i = [], 0
    for _ in range(_MAX_OBJECT_STARTS):
        start = block.find("{", i)
        if start < 0:
            break
        try:
            obj, end = reader.obj(start, 1)
        except _READ_ERRORS:
            i = start + 1
            continue
        found.append((obj, end))
        i = end
    return found


def _key(obj: dict, *names: str) -> tuple[bool, Any]:
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}  # a later spelling wins
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


_LABEL = r"(?:sub[\s_-]*steps?|steps?|s|location|line)\s*(?:no\.?|number|#)?\s*"
_NUM = r"(\d+)(?:\.0+)?"
_ONE_STEP = re.compile(rf"(?P<label>{_LABEL})?#?\s*{_NUM}")
_TAILS = (  # what may follow the first step number, and the kind it makes
    ("range", re.compile(rf"\s*(?:-|\u2013|\u2014|to|through)\s*(?:{_LABEL})?\d+")),
    ("list", re.compile(rf"\s*(?:,|and|&|/)\s*(?:{_LABEL})?\d+(?:\s*(?:,|and|&)\s*(?:{_LABEL})?\d+)*")),
    ("label", re.compile(r"\s*(?:of|/)\s*\d+")),  # "Substep 3 of 6": the count, not a step
    ("described", re.compile(r"\s*[.:)(,;\-\u2013\u2014]\s*[^\d]*|\s+[^\d]+")),
)


def _location_text(text: str) -> tuple[int | None, str | None]:
    text = re.sub(r"[*`_]", "", text).strip().lower()
    if text.startswith("after"):
        return None, None  # "after substep 3": the step it replaces is not said
    before = text.startswith("before")
    text = re.sub(r"^(?:before|replac(?:es|ing|e)|at|in)\s+", "", text).strip()
    bracketed = bool(re.fullmatch(r"[\[(].*[\])]", text))
    if bracketed:
        text = text[1:-1].strip()
    m = _ONE_STEP.match(text)
    if not m:
        return None, None
    step, tail = int(m.group(2)), text[m.end() :]
    kind = "before" if before else "bracketed" if bracketed else "label" if m.group("label") else "text_number"
    if not tail.strip() or tail.strip() in (".", ":"):
        return step, kind
    for tail_kind, pattern in _TAILS:
        if pattern.fullmatch(tail):
            return step, kind if before or tail_kind == "label" and m.group("label") else tail_kind
    return None, None


def _location(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, bool) or value is None:
        return None, None
    if isinstance(value, int):
        return value, "integer"
    if isinstance(value, float):
        return (int(value), "integer") if value.is_integer() else (None, None)
    if isinstance(value, list) and value:
        first, _ = _location(value[0])
        return (first, "list") if first is not None else (None, None)
    if isinstance(value, str):
        return _location_text(value)
    return None, None


def parse_intervention_detailed(text: str, num_steps: int) -> Parsed:
    """The module doc's rules, with the location's spelling. Never raises."""
    try:
        return _parse(text, num_steps)
    except Exception:  # noqa: BLE001 - the contract is: never raise on model output
        return Parsed(None, "unparseable")


def _read_block(block: str) -> tuple[dict | None, str]:
    """The content holder of the final block, or why there is none."""
    inner = _FENCE.sub("", block).strip()
    if not inner or is_no_intervention(inner):
        return None, "empty_content"
    if "{" not in inner:
        return None, "no_object"
    objects = _objects(block)
    holders = [(holder, end) for obj, end in objects if (holder := _content_holder(obj)) is not None]
    if not holders:
        return None, "empty_content" if objects and all(not obj for obj, _ in objects) else "unparseable"
    holder, end = holders[-1]
    if _CONTENT_KEY.search(block, end):
        return None, "unparseable"  # a later object (the final one) names content but is broken
    return holder, "ok"


def _parse(text: Any, num_steps: Any) -> Parsed:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return Parsed(None, "no_block")
    block = _final_block(text)
    if block is None:
        return Parsed(None, "no_block")
    holder, reason = _read_block(block)
    if holder is None:
        return Parsed(None, reason)
    _, content = _key(holder, "content")
    if content is None:
        return Parsed(None, "empty_content")
    if isinstance(content, bool) or not isinstance(content, (str, int, float)):
        return Parsed(None, "unparseable")
    content = str(content).strip()
    if not content or is_no_intervention(content):
        return Parsed(None, "empty_content")
    found, raw_location = _key(holder, "location", "substep", "step")
    location, kind = _location(raw_location) if found else (None, None)
    try:
        limit = int(num_steps)
    except (TypeError, ValueError, OverflowError):
        return Parsed(None, "bad_location")
    if location is None or not 1 <= location <= limit:
        return Parsed(None, "bad_location")
    return Parsed({"content": content, "location": location}, "ok", kind)


def parse_intervention_reason(text: str, num_steps: int) -> tuple[dict | None, str]:
    """``({"content", "location"}, "ok")`` from the final ``<intervention>`` block, or
    ``(None, reason)``; reasons: :data:`PARSE_REASONS` (module doc). Never raises."""
    parsed = parse_intervention_detailed(text, num_steps)
    return parsed.intervention, parsed.reason


def parse_intervention(text: str, num_steps: int) -> dict | None:
    """``{"content": str, "location": int}`` from the final ``<intervention>`` block, or None
    (no block, nothing usable in the final block, the proposer found no error, or a location
    that is not a step of the attempt); see :func:`parse_intervention_reason` for why."""
    return parse_intervention_reason(text, num_steps)[0]


def copies_prompt(content: str, prompt_text: str, min_chars: int = 16) -> bool:
    """True when ``content`` is text of the proposer's own prompt, e.g. the format example
    ("the step the student should write instead"), which small models echo back. Short contents
    (under ``min_chars``) are never called copies: a formula may well appear in the prompt."""
    needle = " ".join(content.split()).casefold()
    return len(needle) >= min_chars and needle in " ".join(prompt_text.split()).casefold()
