"""The arithmetic problem model that the generator (:mod:`int_exp.domains.arith.generator`) and the oracle
(:mod:`int_exp.domains.arith.oracle`) share: a start value, a chain of operations, and the problem's text
and reference solutions (the formats are described in :mod:`int_exp.domains.arith.generator`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from int_exp.interventions.steps import join_steps

OPERATIONS = ("+", "-", "*", "/")
_WORDS = {"+": "add", "-": "subtract", "*": "multiply by", "/": "divide by"}
_FROM_WORD = {word: op for op, word in _WORDS.items()}


def apply_op(value, op: str, operand):
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


def format_value(value: Fraction | int) -> str:
    """An exact value as problems and references write it: an integer (a float only in messages)."""
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
            out.append(apply_op(out[-1], op, operand))
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
        return f"{format_value(values[index])} {op} {operand} = {format_value(values[index + 1])}"

    def answer_step(self) -> str:
        return f"The answer is \\boxed{{{format_value(self.answer)}}}."

    def detailed_steps(self) -> list[str]:
        return [self.start_step(), *(self.op_step(i) for i in range(len(self.ops))), self.answer_step()]

    def detailed(self) -> str:
        return join_steps(self.detailed_steps())

    def terse(self) -> str:
        """The whole chain on one line, then the box: a single step."""
        values = self.values
        parts = [f"{self.start} {self.ops[0][0]} {self.ops[0][1]} = {format_value(values[1])}"]
        parts += [
            f"{op} {operand} = {format_value(values[i + 1])}"
            for i, (op, operand) in enumerate(self.ops)
            if i > 0
        ]
        return ", ".join(parts) + f". \\boxed{{{format_value(self.answer)}}}"

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
