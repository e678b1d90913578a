"""A toy reasoning domain for tests/test_domains.py: one folder, no edit to int_exp.

Problems "What is a plus b?" with the answer in ``\\boxed{}``, graded by exact comparison of the
last box; an oracle that names the first step of a failed attempt and writes the sum's first
operand as the replacement step (it never states the answer), and a settings section
``data.toy`` whose ``size`` sets how many problems each split has.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pandas as pd

from int_exp.domains.base import SimpleDomain
from int_exp.grading.answers import extract_boxed


@dataclass
class ToyConfig:
    size: int = 6
    seed: int = 0


def read(source: str, split: str, spec, data_cfg) -> pd.DataFrame:
    settings = getattr(spec, "toy", None) or data_cfg.toy
    rng = random.Random(f"{settings.seed}:{split}")
    rows = []
    for i in range(int(settings.size)):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        rows.append({"problem_id": f"toy/{split}/{i}", "problem": f"What is {a} plus {b}?", "answer": str(a + b),
                     "reference_solution": f"Start from {a}.\n\nAdd {b}.\n\nThe answer is \\boxed{{{a + b}}}.",
                     "source": "toy"})
    return pd.DataFrame(rows)


def grade(outputs, golds, *, progress=False) -> list[bool]:
    return [extract_boxed(o) == str(g).strip() for o, g in zip(outputs, golds)]


def oracle(row: dict, attempt: str) -> str:
    first = row["problem"].split()[2]
    return f'<intervention>{{"content": "Start from {first}.", "location": 1}}</intervention>'


DOMAIN = SimpleDomain(name="toy", sources=("toy",), read_fn=read, grade_fn=grade,
                      equivalent_fn=lambda pred, gold: pred.strip() == gold.strip(),
                      settings={"data.toy": ToyConfig}, oracle_fn=oracle, source_settings=("toy",))
