"""What follows a parsed intervention: splicing it into the attempt, and keeping
``intervention.per_attempt`` interventions per failed attempt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from int_exp.interventions.steps import join_steps, split_steps


def intervention_steps(content: str) -> list[str]:
    """The intervention as steps, as the paper's code splices it: every line break in it is a
    step break (a lone ``\n`` becomes a blank line; blank lines already there stay one).

    >>> intervention_steps("Wait, 3 + 4 = 7.\nSo x = 7.\n\nThen")
    ['Wait, 3 + 4 = 7.', 'So x = 7.', 'Then']
    """
    return [line.strip() for line in content.splitlines() if line.strip()]


def guided_attempt(attempt: str, location: int, content: str) -> str:
    """Steps ``1..location-1`` of ``attempt``, then the intervention ``content``, one step per line
    of it (:func:`intervention_steps`), so the guided attempt keeps one step per paragraph.

    Location 1 gives the content alone.

    Raises:
        ValueError: ``location`` is not an integer in ``1..len(split_steps(attempt))`` (or 1 for
            an empty attempt).
    """
    steps = split_steps(attempt)
    if isinstance(location, bool) or not isinstance(location, int) or not 1 <= location <= max(len(steps), 1):
        raise ValueError(f"intervention location {location!r} is outside the attempt's steps 1..{len(steps)}")
    return join_steps([*steps[: location - 1], *intervention_steps(content)])


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
