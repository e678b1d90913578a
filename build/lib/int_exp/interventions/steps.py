"""Reasoning steps: the unit InT reasons about.

A solution is a sequence of steps separated by blank lines ("\\n\\n"), exactly as in the paper's
code. Every module that splits, numbers or re-joins steps goes through these helpers so the
convention lives in one place.
"""

from __future__ import annotations

import json

STEP_SEPARATOR = "\n\n"


def split_steps(text: str) -> list[str]:
    """Split a solution into steps on blank lines; empty chunks are dropped.

    >>> split_steps("a\\n\\nb\\n\\n\\n\\nc")
    ['a', 'b', 'c']
    """
    return [chunk for chunk in (part.strip("\n") for part in text.split(STEP_SEPARATOR)) if chunk.strip()]


def join_steps(steps: list[str]) -> str:
    """Inverse of :func:`split_steps` (up to blank-line normalisation)."""
    return STEP_SEPARATOR.join(steps)


def format_intervention(content: str, location: int) -> str:
    """The block a proposer emits and :func:`int_exp.interventions.parse_intervention` reads.

    >>> format_intervention("Add 3.", 2)
    '<intervention>{"content": "Add 3.", "location": 2}</intervention>'
    """
    return "<intervention>" + json.dumps({"content": content, "location": location}) + "</intervention>"
