"""The arith oracle: an exact step checker, and the proposer output it writes for a failed attempt.

:func:`check_solution` reads a solution step by step and finds the first wrong step;
:func:`oracle_intervention` turns that into the proposer's output: an explanation line and
``<intervention>{"content": <the corrected step>, "location": <its 1-based index>}</intervention>``
(:func:`int_exp.interventions.steps.format_intervention`), so parsing, splicing and training treat it exactly
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

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from int_exp.config import setting
from int_exp.domains.arith.problem import ArithProblem, format_value, parse_problem
from int_exp.grading.answers import boxed_spans
from int_exp.interventions.steps import STEP_SEPARATOR, format_intervention, split_steps

__all__ = ["Diagnosis", "check_solution", "diagnose", "oracle_intervention"]

_NUM = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_EQ_RE = re.compile(rf"(?<![\w.,])({_NUM})\s*([-+*/×x÷])\s*({_NUM})\s*=\s*({_NUM})(?![\d])")
_START_RE = re.compile(
    rf"\bstart(?:s|ing)?(?:\s+with|\s+at|\s+from)?\s*[:=]?\s*({_NUM})(?![\d])", re.IGNORECASE
)
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
    for span in boxed_spans(step):
        if not span.closed:
            unclosed = True
            continue
        events.append(_Event("box", span.start, step[span.start : span.end], value=_box_value(span.inner)))
        masked[span.start : span.end] = " " * (span.end - span.start)
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
    problem = parse_problem(setting(row, "problem"))
    answer = setting(row, "answer")
    if answer is not None and str(answer).strip() and _number(str(answer)) != Fraction(problem.answer):
        raise ValueError(
            f"the row's answer {answer!r} disagrees with its problem's exact answer {problem.answer}: "
            f"{problem.text!r}"
        )
    return problem


@dataclass
class _Walk:
    """The checker's running state through a solution: operations done, start seen, last equation."""

    problem: ArithProblem
    values: list[Fraction]
    started: bool = False
    i: int = 0  # operations done
    last_eq: tuple[Fraction, str, Fraction, Fraction] | None = None

    @property
    def n_ops(self) -> int:
        """The problem's number of operations."""
        return len(self.problem.ops)

    def next_step(self) -> str:
        """The correct next step: the next operation, or the answer step once all are done."""
        return self.problem.op_step(self.i) if self.i < self.n_ops else self.problem.answer_step()

    def missing_step(self) -> str:
        """The step that should come next, the start step if the solution has not started."""
        return self.next_step() if self.started else self.problem.start_step()


def _check_start(walk: _Walk, event: _Event, accepted: list[str]) -> tuple[str, str] | None:
    """``(reason, fix)`` when a start event is wrong; else None (recording a first start)."""
    problem, i = walk.problem, walk.i
    if event.value != walk.values[i]:
        if i == 0:
            return (
                f"wrong start value {event.text.strip()!r}, the problem starts with {problem.start}",
                problem.start_step(),
            )
        reason = (
            f"{event.text.strip()!r} continues from {format_value(event.value or 0)}, "
            f"but the running value is {format_value(walk.values[i])}"
        )
        return reason, walk.next_step()
    if i == 0:
        walk.started = True
        accepted.append(problem.start_step())
    return None


def _check_eq(walk: _Walk, event: _Event, accepted: list[str]) -> tuple[str, str] | None:
    """``(reason, fix)`` when an equation is wrong; else None (advancing past a right one)."""
    problem, i = walk.problem, walk.i
    a, op, b, c = event.eq
    if walk.last_eq is not None and event.eq == walk.last_eq:
        return None  # a restatement of the previous equation
    if i >= walk.n_ops:
        return f"{event.text.strip()!r} comes after the last operation", problem.answer_step()
    expected_op, operand = problem.ops[i]
    current = walk.values[i]
    if op != expected_op or not (b == operand or (op in "+*" and a == operand and b == current)):
        reason = (
            f"{event.text.strip()!r} has the wrong operation or operand; "
            f"the next one is '{expected_op} {operand}'"
        )
        return reason, walk.next_step()
    carried = a if b == operand else b
    if carried != current:
        reason = (
            f"{event.text.strip()!r} carries {format_value(carried)}, "
            f"but the running value is {format_value(current)}"
        )
        return reason, walk.next_step()
    if c != walk.values[i + 1]:
        return f"{event.text.strip()!r} has wrong arithmetic ({problem.op_step(i)})", walk.next_step()
    accepted.append(problem.op_step(i))
    walk.last_eq = event.eq
    walk.started = True
    walk.i += 1
    return None


def _check_box(walk: _Walk, event: _Event) -> tuple[str, str] | None:
    """``(reason, fix)`` when a box is wrong; None when it holds the answer."""
    answer = walk.values[-1]
    if event.value is not None and event.value == answer:
        return None
    shown = event.text if event.value is None else format_value(event.value)
    if walk.i < walk.n_ops:
        return f"boxes {shown} after {walk.i} of {walk.n_ops} operations", walk.next_step()
    return f"boxes {shown}, but the result is {format_value(answer)}", walk.problem.answer_step()


def _check_step(walk: _Walk, t: int, events: list[_Event]) -> Diagnosis | None:
    """The verdict ending the check at step ``t`` (a wrong event, or a right box); None to read on."""
    accepted: list[str] = []  # canonical forms of this step's correct events
    for event in events:
        if event.kind == "start":
            wrong = _check_start(walk, event, accepted)
        elif event.kind == "eq":
            wrong = _check_eq(walk, event, accepted)
        else:  # box
            wrong = _check_box(walk, event)
            if wrong is None:
                return Diagnosis(None, "correct")
        if wrong is not None:
            reason, fix = wrong
            return Diagnosis(t, reason, t, "\n".join([*accepted, fix]))
    return None


def _no_answer(walk: _Walk, steps: list[str], last_event_step: int) -> Diagnosis:
    """The verdict for a solution that stops before the answer (no box)."""
    i, n_ops = walk.i, walk.n_ops
    missing = walk.missing_step()
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


def diagnose(problem_row: Any, text: str) -> Diagnosis:
    """Check ``text`` against the problem step by step (see the module doc); never raises on ``text``.

    ``problem_row``: a row with ``problem`` (and optionally ``answer``, checked for consistency),
    a problem text, or an :class:`ArithProblem`.
    """
    problem = _problem_of(problem_row)
    walk = _Walk(problem, [Fraction(v) for v in problem.values])
    steps = split_steps(str(text or ""))
    last_event_step = 0  # 1-based index of the last step holding an event
    for t, step in enumerate(steps, start=1):
        events, unclosed = _events(step)
        if not events:
            if unclosed or _COMPUTATION_LIKE.search(step):
                return Diagnosis(t, f"cannot read {step.strip()[:80]!r}", t, walk.missing_step())
            continue
        last_event_step = t
        verdict = _check_step(walk, t, events)
        if verdict is not None:
            return verdict
    # No box: the solution stops before the answer.
    return _no_answer(walk, steps, last_event_step)


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
