"""Synthetic multi-step arithmetic: a domain where CPU runs get real interventions.

Every problem applies a chain of operations to a start value::

    problem:   Start with 17. Add 25, then multiply by 3, then subtract 40. What is the result?

    detailed:  Start: 17              terse:  17 + 25 = 42, * 3 = 126, - 40 = 86. \\boxed{86}
                                      (one step, the whole chain on a line: off-policy for a
               17 + 25 = 42           model that writes the detailed format)

               42 * 3 = 126

               126 - 40 = 86

               The answer is \\boxed{86}.

The detailed reference is one step per blank-line-separated chunk (:mod:`int_exp.interventions.steps`): a
``Start: s`` step, one ``a op b = c`` step per operation (``a`` is the running value, ``op`` one of
``+ - * /``), and a final ``The answer is \\boxed{x}.`` step. The format is short and regular so a
tiny character-level transformer can learn it, and every step can be checked exactly.

Generation (:func:`generate_problems`, :func:`arith_table`) is deterministic given
:class:`~int_exp.domains.arith.settings.ArithConfig` and the split. ``min_steps``/``max_steps`` count operations
(the detailed reference has that many steps plus two). ``+``/``-`` operands are drawn from
``1..max_operand``, ``*``/``/`` operands from ``2..max_multiplier``; division is exact; no running
value exceeds ``max_value`` in size, and with ``allow_negative: false`` none goes below zero.

Splits are disjoint by construction: a problem's split is a hash of its text
(:func:`split_of`: 20% ``test``, 40% ``train``, 40% ``pretrain``), and each split keeps only the
problems that hash into it (each split also draws from its own seeded stream). So no test problem
can appear in train, whatever the seeds or other knobs. ``pretrain`` is a third pool for training
a from-scratch model (the sandbox) without touching the InT training or test problems. The
first ``n`` problems of a split do not depend on how many are asked for.

Difficulty (:func:`difficulty`) is a label by number of operations: ``easy`` (<= 3), ``medium``
(4-5), ``hard`` (>= 6), so a model can be trained on easy/medium and evaluated on hard.

Modules: the problem model (:class:`ArithProblem`, :func:`parse_problem`) lives in
:mod:`int_exp.domains.arith.problem`, the step checker and oracle proposer (:func:`check_solution`,
:func:`diagnose`, :func:`oracle_intervention`) in :mod:`int_exp.domains.arith.oracle`; both are
re-exported here.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from int_exp.config import setting
from int_exp.domains.arith.oracle import Diagnosis, check_solution, diagnose, oracle_intervention
from int_exp.domains.arith.problem import (
    OPERATIONS,
    ArithProblem,
    apply_op,
    format_value,
    parse_problem,
)

__all__ = [
    "OPERATIONS",
    "SPLITS",
    "ArithProblem",
    "Diagnosis",
    "arith_table",
    "check_solution",
    "diagnose",
    "difficulty",
    "generate_problems",
    "oracle_intervention",
    "parse_problem",
    "split_of",
    "validate_config",
]

# Share of the hash space per split, in percent: [start, stop).
SPLITS = {"test": (0, 20), "train": (20, 60), "pretrain": (60, 100)}

EASY_MAX_OPS = 3
MEDIUM_MAX_OPS = 5


def difficulty(num_steps: int) -> str:
    """``easy`` (<= 3 operations), ``medium`` (4-5) or ``hard`` (>= 6)."""
    if num_steps <= EASY_MAX_OPS:
        return "easy"
    if num_steps <= MEDIUM_MAX_OPS:
        return "medium"
    return "hard"


def split_of(problem_text: str) -> str:
    """The split a problem text belongs to (a hash of the text: fixed, whatever the config)."""
    bucket = int.from_bytes(hashlib.sha256(problem_text.encode("utf-8")).digest()[:8], "big") % 100
    for name, (lo, hi) in SPLITS.items():
        if lo <= bucket < hi:
            return name
    raise AssertionError("unreachable")


def validate_config(cfg: Any) -> None:
    """Clear errors for impossible settings (called by the generators)."""
    min_steps, max_steps = int(setting(cfg, "min_steps")), int(setting(cfg, "max_steps"))
    if min_steps < 1 or max_steps < min_steps:
        raise ValueError(
            f"arith: need 1 <= min_steps <= max_steps, got min_steps={min_steps}, max_steps={max_steps}"
        )
    ops = list(setting(cfg, "operations"))
    bad = [op for op in ops if op not in OPERATIONS]
    if not ops or bad:
        raise ValueError(f"arith.operations must be a non-empty subset of {list(OPERATIONS)}, got {ops}")
    if int(setting(cfg, "max_operand")) < 1:
        raise ValueError(f"arith.max_operand must be >= 1, got {setting(cfg, 'max_operand')}")
    if {"*", "/"} & set(ops) and int(setting(cfg, "max_multiplier", 9)) < 2:
        raise ValueError(
            f"arith.max_multiplier must be >= 2 for '*' or '/', got {setting(cfg, 'max_multiplier')}"
        )
    if int(setting(cfg, "max_value", 9999)) < int(setting(cfg, "max_operand")):
        raise ValueError("arith.max_value must be >= arith.max_operand")
    if setting(cfg, "reference_style", "detailed") not in ("detailed", "terse"):
        raise ValueError(
            f"arith.reference_style must be 'detailed' or 'terse', got {setting(cfg, 'reference_style')!r}"
        )


def _draw(rng: random.Random, cfg: Any) -> ArithProblem | None:
    """One random problem, or None when the chain got stuck (no operation keeps values in range)."""
    max_operand = int(setting(cfg, "max_operand"))
    max_mult = int(setting(cfg, "max_multiplier", 9))
    max_value = int(setting(cfg, "max_value", 9999))
    allow_negative = bool(setting(cfg, "allow_negative", False))
    operations = list(setting(cfg, "operations"))
    low = -max_value if allow_negative else 0
    n_ops = rng.randint(int(setting(cfg, "min_steps")), int(setting(cfg, "max_steps")))
    value = rng.randint(1, max_operand)
    start, ops = value, []
    for _ in range(n_ops):
        # op -> (lo, hi) operand range for + and -, or the list of operands for * and /
        choices: dict[str, Any] = {}
        for op in operations:
            if op == "+":
                hi = min(max_operand, max_value - value)
                choice: Any = (1, hi) if hi >= 1 else None
            elif op == "-":
                hi = min(max_operand, value - low)
                choice = (1, hi) if hi >= 1 else None
            elif op == "*":
                choice = (
                    [b for b in range(2, max_mult + 1) if low <= value * b <= max_value] if value else None
                )
            else:  # "/"
                choice = [b for b in range(2, max_mult + 1) if value % b == 0] if value else None
            if choice:
                choices[op] = choice
        if not choices:
            return None
        op = rng.choice([o for o in OPERATIONS if o in choices])
        choice = choices[op]
        operand = rng.randint(*choice) if isinstance(choice, tuple) else rng.choice(choice)
        value = apply_op(value, op, operand)
        ops.append((op, operand))
    return ArithProblem(start, tuple(ops))


def generate_problems(cfg: Any, split: str, n: int | None = None) -> list[ArithProblem]:
    """``n`` distinct problems of ``split`` (default ``train_size`` / ``test_size``), deterministic.

    Args:
        cfg: an :class:`~int_exp.domains.arith.settings.ArithConfig` (or a DictConfig / mapping with its fields).
        split: ``train``, ``test`` or ``pretrain`` (disjoint: see the module doc).
        n: how many; required for ``pretrain``.

    Raises:
        ValueError: unknown split, bad settings, or too few distinct problems exist for them.
    """
    validate_config(cfg)
    if split not in SPLITS:
        raise ValueError(f"arith has splits {list(SPLITS)}, not {split!r}")
    if n is None:
        if split == "pretrain":
            raise ValueError("arith split 'pretrain' needs an explicit number of problems")
        n = int(setting(cfg, "train_size" if split == "train" else "test_size"))
    rng = random.Random(f"int-exp/arith/{int(setting(cfg, 'seed', 0))}/{split}")
    out: list[ArithProblem] = []
    seen: set[str] = set()
    tries, max_tries = 0, 200 * n + 20_000
    while len(out) < n:
        tries += 1
        if tries > max_tries:
            raise ValueError(
                f"arith: found only {len(out)} distinct '{split}' problems of the {n} asked for in "
                f"{max_tries} draws; widen the settings (max_operand, max_multiplier, min_steps/max_steps, "
                "operations) or ask for fewer"
            )
        problem = _draw(rng, cfg)
        if problem is None:
            continue
        text = problem.text
        if text in seen or split_of(text) != split:
            continue
        seen.add(text)
        out.append(problem)
    return out


def with_steps(cfg: Any, min_steps: int, max_steps: int) -> dict[str, Any]:
    """``cfg`` (an ArithConfig, DictConfig or mapping) as a dict, with other operation counts."""
    from int_exp.config import plain_dict

    settings = plain_dict(cfg)
    settings.update(min_steps=int(min_steps), max_steps=int(max_steps))
    return settings


def arith_table(cfg: Any, split: str, n: int | None = None):
    """The problems of :func:`generate_problems` as the pipeline's normalised table.

    Columns: ``problem_id`` (``arith/<split>/<index>``), ``problem``, ``answer`` (a string),
    ``reference_solution`` (in ``cfg.reference_style``), ``source`` (``arith``), ``num_steps``
    (operations), ``difficulty``, ``reference_detailed``, ``reference_terse``.
    """
    import pandas as pd

    style = setting(cfg, "reference_style", "detailed")
    problems = generate_problems(cfg, split, n)
    return pd.DataFrame(
        {
            "problem_id": [f"arith/{split}/{i}" for i in range(len(problems))],
            "problem": [p.text for p in problems],
            "answer": [format_value(p.answer) for p in problems],
            "reference_solution": [p.reference(style) for p in problems],
            "source": "arith",
            "num_steps": [p.num_steps for p in problems],
            "difficulty": [difficulty(p.num_steps) for p in problems],
            "reference_detailed": [p.detailed() for p in problems],
            "reference_terse": [p.terse() for p in problems],
        }
    )
