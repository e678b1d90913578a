"""Synthetic multi-step arithmetic: a domain where CPU runs get real interventions.

Every problem applies a chain of operations to a start value::

    problem:   Start with 17. Add 25, then multiply by 3, then subtract 40. What is the result?

    detailed:  Start: 17              terse:  17 + 25 = 42, * 3 = 126, - 40 = 86. \\boxed{86}
                                      (one step, the whole chain on a line: off-policy for a
               17 + 25 = 42           model that writes the detailed format)

               42 * 3 = 126

               126 - 40 = 86

               The answer is \\boxed{86}.

The detailed reference is one step per blank-line-separated chunk (:mod:`int_exp.steps`): a
``Start: s`` step, one ``a op b = c`` step per operation (``a`` is the running value, ``op`` one of
``+ - * /``), and a final ``The answer is \\boxed{x}.`` step. The format is short and regular so a
tiny character-level transformer can learn it, and every step can be checked exactly.

Generation (:func:`generate_problems`, :func:`arith_table`) is deterministic given
:class:`~int_exp.config.ArithConfig` and the split. ``min_steps``/``max_steps`` count operations
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

The oracle
----------

:func:`check_solution` reads a solution step by step and finds the first wrong step;
:func:`oracle_intervention` turns that into the proposer's output: an explanation line and
``<intervention>{"content": <the corrected step>, "location": <its 1-based index>}</intervention>``
(:func:`int_exp.steps.format_intervention`), so parsing, splicing and training treat it exactly
like a model's proposal. The oracle stands in for self-verification where a model cannot do it
(a random or tiny model): it is an exact step checker, not the paper's method.

How steps are read. Each step is scanned for *events*, in order: a start (``Start: 17``,
``start with 17``), equations ``a op b = c`` (``x``/``×`` read as ``*``, ``÷`` as ``/``; integers
or decimals, commas as thousands separators) and a ``\\boxed{}``. The checker keeps the running
value and the next operation:

* a start must give the running value (the start value; "starting with 42" later in the
  solution restates the current value and is accepted when it is right);
* an equation must carry the running value (``a``), apply the next operation with its operand
  (``b``; ``b op a`` is accepted for ``+`` and ``*``) and compute it exactly (``c``); an attempt may
  skip the ``Start`` step (the first equation then carries the start value); an equation that
  repeats the previous one verbatim is a restatement and is ignored; an equation after the last
  operation is an error;
* a ``\\boxed{}`` equal to the answer ends the check: the solution is correct (later steps are
  not read); any other box, or one that is not a number, is an error;
* a step with no event is prose and is skipped, unless it looks like a computation that could
  not be read (an ``=``, a digit, operator and digit, ``start:`` or an unclosed ``\\boxed``), e.g.
  ``42 * 3 = ?`` or a step cut off mid-equation (``126 - 4``): then it is unreadable, an error.
  So computations must be written as equations; a result stated only in words is not read (and
  the next equation's carried value will then look wrong).

The first error's step is replaced by the corrected step in the detailed format: the expected
``a op b = c`` (or ``Start: s``, or the answer step once every operation is done); when the
wrong event follows correct events in the same step, those are kept (in the detailed format,
one per line) before the corrected one. A wrong box before the last operation is fixed with the
next operation, not the answer. If the attempt ends with every step right but no answer, the
first prose step after the last computation is replaced by the next step; if there is none, the
intervention sits at the last step and holds that step followed by the next one (two
blank-line-separated steps: the one case where the content is more than one step, so that the
spliced attempt continues).

Leaks. A corrected intermediate step holds an intermediate value, which is the point; when the
first error is in the last operation or the answer step, the corrected step contains the final
answer. The oracle still emits it; the ``parse`` stage's leak filter
(:func:`int_exp.interventions.leaks_answer`) drops it, as it would a model's.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from int_exp.steps import STEP_SEPARATOR, format_intervention, join_steps, split_steps

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

OPERATIONS = ("+", "-", "*", "/")
_WORDS = {"+": "add", "-": "subtract", "*": "multiply by", "/": "divide by"}
_FROM_WORD = {word: op for op, word in _WORDS.items()}

# Share of the hash space per split, in percent: [start, stop).
SPLITS = {"test": (0, 20), "train": (20, 60), "pretrain": (60, 100)}

EASY_MAX_OPS = 3
MEDIUM_MAX_OPS = 5


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


def _apply(value, op: str, operand):
    """Exact ``value op operand``: ints stay ints; a division that does not come out even gives a Fraction."""
    if op == "+":
        return value + operand
    if op == "-":
        return value - operand
    if op == "*":
        return value * operand
    if op == "/":
        if isinstance(value, int) and isinstance(operand, int) and operand and value % operand == 0:
            return value // operand
        return Fraction(value) / Fraction(operand)
    raise ValueError(f"unknown operation {op!r}")


def _fmt(value: Fraction | int) -> str:
    if isinstance(value, int):
        return str(value)
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return str(float(value))  # never produced by the generator; only for messages


@dataclass(frozen=True)
class ArithProblem:
    """A start value and a chain of ``(op, operand)`` operations."""

    start: int
    ops: tuple[tuple[str, int], ...]

    @cached_property
    def values(self) -> list:
        """Running values: the start value, then the value after each operation (ints; a
        Fraction only for a hand-written problem whose division does not come out even)."""
        out = [self.start]
        for op, operand in self.ops:
            out.append(_apply(out[-1], op, operand))
        return out

    @property
    def answer(self) -> int:
        return self.values[-1]

    @property
    def num_steps(self) -> int:
        return len(self.ops)

    @property
    def text(self) -> str:
        phrases = [f"{_WORDS[op]} {operand}" for op, operand in self.ops]
        phrases[0] = phrases[0][0].upper() + phrases[0][1:]
        return f"Start with {self.start}. " + ", then ".join(phrases) + ". What is the result?"

    def start_step(self) -> str:
        return f"Start: {self.start}"

    def op_step(self, index: int) -> str:
        """The detailed step for operation ``index`` (0-based)."""
        op, operand = self.ops[index]
        values = self.values
        return f"{_fmt(values[index])} {op} {operand} = {_fmt(values[index + 1])}"

    def answer_step(self) -> str:
        return f"The answer is \\boxed{{{_fmt(self.answer)}}}."

    def detailed_steps(self) -> list[str]:
        return [self.start_step(), *(self.op_step(i) for i in range(len(self.ops))), self.answer_step()]

    def detailed(self) -> str:
        return join_steps(self.detailed_steps())

    def terse(self) -> str:
        """The whole chain on one line, then the box: a single step."""
        values = self.values
        parts = [f"{self.start} {self.ops[0][0]} {self.ops[0][1]} = {_fmt(values[1])}"]
        parts += [
            f"{op} {operand} = {_fmt(values[i + 1])}" for i, (op, operand) in enumerate(self.ops) if i > 0
        ]
        return ", ".join(parts) + f". \\boxed{{{_fmt(self.answer)}}}"

    def reference(self, style: str) -> str:
        if style == "detailed":
            return self.detailed()
        if style == "terse":
            return self.terse()
        raise ValueError(f"unknown arith reference_style {style!r}: use 'detailed' or 'terse'")


_PROBLEM_RE = re.compile(r"\s*Start with (-?\d+)\.\s+(.*?)\.\s+What is the result\?\s*", re.DOTALL)
_PHRASE_RE = re.compile(r"(add|subtract|multiply by|divide by)\s+(-?\d+)", re.IGNORECASE)


def parse_problem(text: str) -> ArithProblem:
    """The :class:`ArithProblem` behind a problem text written by this module.

    Raises:
        ValueError: the text is not an arith problem.
    """
    m = _PROBLEM_RE.fullmatch(str(text))
    if not m:
        raise ValueError(
            f"not an arith problem (expected 'Start with N. ... What is the result?'): {str(text)[:120]!r}"
        )
    ops = []
    for phrase in m.group(2).split(", then "):
        pm = _PHRASE_RE.fullmatch(phrase.strip())
        if not pm:
            raise ValueError(
                f"not an arith problem: cannot read the operation {phrase!r} in {str(text)[:120]!r}"
            )
        ops.append((_FROM_WORD[pm.group(1).lower()], int(pm.group(2))))
    return ArithProblem(int(m.group(1)), tuple(ops))


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


def _get(cfg: Any, name: str, default: Any = None) -> Any:
    if isinstance(cfg, Mapping):
        return cfg.get(name, default)
    return getattr(cfg, name, default)


def validate_config(cfg: Any) -> None:
    """Clear errors for impossible settings (called by the generators)."""
    min_steps, max_steps = int(_get(cfg, "min_steps")), int(_get(cfg, "max_steps"))
    if min_steps < 1 or max_steps < min_steps:
        raise ValueError(
            f"arith: need 1 <= min_steps <= max_steps, got min_steps={min_steps}, max_steps={max_steps}"
        )
    ops = list(_get(cfg, "operations"))
    bad = [op for op in ops if op not in OPERATIONS]
    if not ops or bad:
        raise ValueError(f"arith.operations must be a non-empty subset of {list(OPERATIONS)}, got {ops}")
    if int(_get(cfg, "max_operand")) < 1:
        raise ValueError(f"arith.max_operand must be >= 1, got {_get(cfg, 'max_operand')}")
    if {"*", "/"} & set(ops) and int(_get(cfg, "max_multiplier", 9)) < 2:
        raise ValueError(
            f"arith.max_multiplier must be >= 2 for '*' or '/', got {_get(cfg, 'max_multiplier')}"
        )
    if int(_get(cfg, "max_value", 9999)) < int(_get(cfg, "max_operand")):
        raise ValueError("arith.max_value must be >= arith.max_operand")
    if _get(cfg, "reference_style", "detailed") not in ("detailed", "terse"):
        raise ValueError(
            f"arith.reference_style must be 'detailed' or 'terse', got {_get(cfg, 'reference_style')!r}"
        )


def _draw(rng: random.Random, cfg: Any) -> ArithProblem | None:
    """One random problem, or None when the chain got stuck (no operation keeps values in range)."""
    max_operand = int(_get(cfg, "max_operand"))
    max_mult = int(_get(cfg, "max_multiplier", 9))
    max_value = int(_get(cfg, "max_value", 9999))
    allow_negative = bool(_get(cfg, "allow_negative", False))
    operations = list(_get(cfg, "operations"))
    low = -max_value if allow_negative else 0
    n_ops = rng.randint(int(_get(cfg, "min_steps")), int(_get(cfg, "max_steps")))
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
        value = _apply(value, op, operand)
        ops.append((op, operand))
    return ArithProblem(start, tuple(ops))


def generate_problems(cfg: Any, split: str, n: int | None = None) -> list[ArithProblem]:
    """``n`` distinct problems of ``split`` (default ``train_size`` / ``test_size``), deterministic.

    Args:
        cfg: an :class:`~int_exp.config.ArithConfig` (or a DictConfig / mapping with its fields).
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
        n = int(_get(cfg, "train_size" if split == "train" else "test_size"))
    rng = random.Random(f"int-exp/arith/{int(_get(cfg, 'seed', 0))}/{split}")
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


def arith_table(cfg: Any, split: str, n: int | None = None):
    """The problems of :func:`generate_problems` as the pipeline's normalised table.

    Columns: ``problem_id`` (``arith/<split>/<index>``), ``problem``, ``answer`` (a string),
    ``reference_solution`` (in ``cfg.reference_style``), ``source`` (``arith``), ``num_steps``
    (operations), ``difficulty``, ``reference_detailed``, ``reference_terse``.
    """
    import pandas as pd

    style = _get(cfg, "reference_style", "detailed")
    problems = generate_problems(cfg, split, n)
    return pd.DataFrame(
        {
            "problem_id": [f"arith/{split}/{i}" for i in range(len(problems))],
            "problem": [p.text for p in problems],
            "answer": [_fmt(p.answer) for p in problems],
            "reference_solution": [p.reference(style) for p in problems],
            "source": "arith",
            "num_steps": [p.num_steps for p in problems],
            "difficulty": [difficulty(p.num_steps) for p in problems],
            "reference_detailed": [p.detailed() for p in problems],
            "reference_terse": [p.terse() for p in problems],
        }
    )


# --------------------------------------------------------------------------------------------
# Reading and checking solutions
# --------------------------------------------------------------------------------------------

_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_EQ_RE = re.compile(rf"(?<![\w.,])({_NUM})\s*([-+*/×x÷])\s*({_NUM})\s*=\s*({_NUM})(?![\d])")
_START_RE = re.compile(
    rf"\bstart(?:s|ing)?(?:\s+with|\s+at|\s+from)?\s*[:=]?\s*({_NUM})(?![\d])", re.IGNORECASE
)
_BOX_OPEN_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")
_COMPUTATION_LIKE = re.compile(r"=|\d\s*[-+*/×÷]\s*(?:\d|$)|\bstart\s*:|\\boxed|\\fbox", re.IGNORECASE)
_OP_ALIASES = {"×": "*", "x": "*", "÷": "/"}


def _number(text: str) -> Fraction | None:
    text = text.replace(",", "").strip()
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def _box_value(inner: str) -> Fraction | None:
    cleaned = inner.replace("$", "").replace("\\,", "").replace("\\!", "").strip().rstrip(".").strip()
    if not re.fullmatch(_NUM, cleaned):
        return None
    return _number(cleaned)


@dataclass
class _Event:
    kind: str  # start | eq | box
    pos: int
    text: str
    value: Fraction | None = None  # start value, box value
    eq: tuple[Fraction, str, Fraction, Fraction] | None = None


def _events(step: str) -> tuple[list[_Event], bool]:
    """The events of a step, in order, and whether it holds an unclosed box."""
    events: list[_Event] = []
    masked = list(step)
    unclosed = False
    for m in _BOX_OPEN_RE.finditer(step):
        depth, i = 1, m.end()
        while i < len(step) and depth:
            if step[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(step[i], 0)
            i += 1
        if depth:
            unclosed = True
            continue
        inner = step[m.end() : i - 1]
        events.append(_Event("box", m.start(), step[m.start() : i], value=_box_value(inner)))
        masked[m.start() : i] = " " * (i - m.start())
    text = "".join(masked)
    for m in _START_RE.finditer(text):
        events.append(_Event("start", m.start(), m.group(0), value=_number(m.group(1))))
    for m in _EQ_RE.finditer(text):
        a, op, b, c = (_number(m.group(1)), m.group(2), _number(m.group(3)), _number(m.group(4)))
        events.append(_Event("eq", m.start(), m.group(0), eq=(a, _OP_ALIASES.get(op, op), b, c)))
    events.sort(key=lambda e: e.pos)
    return events, unclosed


@dataclass
class Diagnosis:
    """The result of checking a solution.

    ``step``: 1-based index of the first wrong step (``len(steps) + 1``: the solution stops before
    the answer), None when correct. ``fix_location``/``fix_content``: where the oracle's
    intervention goes and what it says (the module doc); None when correct.
    """

    step: int | None
    reason: str
    fix_location: int | None = None
    fix_content: str | None = None


def _problem_of(row: Any) -> ArithProblem:
    if isinstance(row, ArithProblem):
        return row
    if isinstance(row, str):
        return parse_problem(row)
    problem = parse_problem(_get(row, "problem"))
    answer = _get(row, "answer")
    if answer is not None and str(answer).strip() and _number(str(answer)) != Fraction(problem.answer):
        raise ValueError(
            f"the row's answer {answer!r} disagrees with its problem's exact answer {problem.answer}: "
            f"{problem.text!r}"
        )
    return problem


def diagnose(problem_row: Any, text: str) -> Diagnosis:
    """Check ``text`` against the problem step by step (see the module doc); never raises on ``text``.

    ``problem_row``: a row with ``problem`` (and optionally ``answer``, checked for consistency),
    a problem text, or an :class:`ArithProblem`.
    """
    problem = _problem_of(problem_row)
    values = [Fraction(v) for v in problem.values]
    n_ops = len(problem.ops)
    answer = values[-1]
    steps = split_steps(str(text or ""))

    def next_step(i: int) -> str:
        return problem.op_step(i) if i < n_ops else problem.answer_step()

    started = False
    i = 0  # operations done
    last_eq = None
    last_event_step = 0  # 1-based index of the last step holding an event
    for t, step in enumerate(steps, start=1):
        events, unclosed = _events(step)
        if not events:
            if unclosed or _COMPUTATION_LIKE.search(step):
                fix = next_step(i) if started else problem.start_step()
                return Diagnosis(t, f"cannot read {step.strip()[:80]!r}", t, fix)
            continue
        last_event_step = t
        accepted: list[str] = []  # canonical forms of this step's correct events

        def wrong(reason: str, fix: str, t: int = t, accepted: list[str] = accepted) -> Diagnosis:
            return Diagnosis(t, reason, t, "\n".join([*accepted, fix]))

        for event in events:
            if event.kind == "start":
                if event.value != values[i]:
                    if i == 0:
                        return wrong(
                            f"wrong start value {event.text.strip()!r}, "
                            f"the problem starts with {problem.start}",
                            problem.start_step(),
                        )
                    return wrong(
                        f"{event.text.strip()!r} continues from {_fmt(event.value or 0)}, but the running "
                        f"value is {_fmt(values[i])}",
                        next_step(i),
                    )
                if i == 0:
                    started = True
                    accepted.append(problem.start_step())
            elif event.kind == "eq":
                a, op, b, c = event.eq
                if last_eq is not None and event.eq == last_eq:
                    continue  # a restatement of the previous equation
                if i >= n_ops:
                    return wrong(
                        f"{event.text.strip()!r} comes after the last operation", problem.answer_step()
                    )
                expected_op, operand = problem.ops[i]
                current = values[i]
                if op != expected_op or not (b == operand or (op in "+*" and a == operand and b == current)):
                    return wrong(
                        f"{event.text.strip()!r} has the wrong operation or operand; "
                        f"the next one is '{expected_op} {operand}'",
                        next_step(i),
                    )
                carried = a if b == operand else b
                if carried != current:
                    return wrong(
                        f"{event.text.strip()!r} carries {_fmt(carried)}, "
                        f"but the running value is {_fmt(current)}",
                        next_step(i),
                    )
                if c != values[i + 1]:
                    return wrong(
                        f"{event.text.strip()!r} has wrong arithmetic ({problem.op_step(i)})", next_step(i)
                    )
                accepted.append(problem.op_step(i))
                last_eq = event.eq
                started = True
                i += 1
            else:  # box
                if event.value is not None and event.value == answer:
                    return Diagnosis(None, "correct")
                shown = event.text if event.value is None else _fmt(event.value)
                if i < n_ops:
                    return wrong(f"boxes {shown} after {i} of {n_ops} operations", next_step(i))
                return wrong(f"boxes {shown}, but the result is {_fmt(answer)}", problem.answer_step())

    # No box: the solution stops before the answer.
    missing = next_step(i) if started else problem.start_step()
    if last_event_step < len(steps):  # prose after the last computation: replace its first step
        t = last_event_step + 1
        return Diagnosis(
            t, f"no computation or answer from here on, after {i} of {n_ops} operations", t, missing
        )
    t = len(steps)
    reason = f"the solution stops after {i} of {n_ops} operations without a boxed answer"
    if t == 0:
        return Diagnosis(1, "the solution is empty", 1, missing)
    return Diagnosis(t + 1, reason, t, steps[-1] + STEP_SEPARATOR + missing)


def check_solution(problem_row: Any, text: str) -> tuple[int | None, str]:
    """``(first_error_step, reason)``: the 1-based index of the first wrong or unreadable step, or
    ``(None, "correct")``. ``len(steps) + 1`` means every step is right but the answer never comes.

    >>> check_solution({"problem": "Start with 2. Add 3. What is the result?"},
    ...                "Start: 2\\n\\n2 + 3 = 6\\n\\nThe answer is \\\\boxed{6}.")
    (2, "'2 + 3 = 6' has wrong arithmetic (2 + 3 = 5)")
    """
    d = diagnose(problem_row, text)
    return d.step, d.reason


def oracle_intervention(problem_row: Any, attempt: str) -> str:
    """The oracle proposer's output for a failed attempt: one explanation line, then
    ``<intervention>{"content": <corrected step>, "location": N}</intervention>``.

    Stands in for the model's self-verification (the paper's proposer) where a model cannot do it:
    an exact step checker (:func:`diagnose`) finds the first wrong or unreadable step and writes
    the corrected step in the detailed reference format. A correct attempt gets an intervention
    with empty content (the parse stage counts it as ``empty_content``). When the first error is
    in the last operation or the answer step, the content reveals the final answer; it is emitted
    anyway and the parse stage's leak filter drops it.
    """
    try:
        d = diagnose(problem_row, attempt)
    except ValueError as e:
        raise ValueError(f"the oracle proposer checks only arith problems (data=arith): {e}") from e
    if d.step is None or d.fix_content is None:
        return f"No error found: {d.reason}.\n" + format_intervention(
            "", max(len(split_steps(str(attempt or ""))), 1)
        )
    return f"First error at step {d.step}: {d.reason}\n" + format_intervention(d.fix_content, d.fix_location)
