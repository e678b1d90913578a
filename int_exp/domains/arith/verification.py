"""Self-verification for the sandbox model: the examples that teach it the proposer's task.

The paper's proposer is the policy itself: shown the problem and a reference solution it solves
the problem (turn 1), then checks a failed attempt whose steps are numbered (turn 2) and ends
with ``<intervention>{"content": ..., "location": N}</intervention>``, the replacement for the
first wrong step (an empty block, location 0, when there is no wrong step). The sandbox model
learns both turns in its build, in the exact chat the ``propose`` stage renders
(:func:`int_exp.interventions.proposer_turn1` / :func:`~int_exp.interventions.proposer_turn2`
with the model's own compact prompt, ``model.sandbox.prompt_turn1`` / ``prompt_turn2``), so
``intervention.proposer=self`` runs through the same ``propose`` and ``parse`` stages as for any
model.

Examples (:func:`verification_examples`):

* turn 1, *solve with the reference*: the problem and its terse reference, answered with the
  detailed solution;
* turn 2, *verify*: turn 1's chat with its correct detailed answer, then the numbered attempt;
  the target is a short verification log and the oracle's block (:func:`verification_target`:
  the first wrong step and its correction, both read by
  :func:`~int_exp.domains.arith.oracle.diagnose`). Attempts are the
  model's own failed samples (drawn between the two training phases) and perturbed solutions
  (:func:`perturbed_attempt`) whose first error looks like the model's: an arithmetic slip, a
  misread operand or a skipped operation after a correct prefix, the rest carried on from the
  wrong value; a share of correct attempts teaches the empty block.

The loss covers the final assistant message only (the block, or turn 1's solution): never the
attempt, so the model is not taught to write wrong steps.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from int_exp.domains.arith.problem import ArithProblem, apply_op, format_value
from int_exp.interventions.steps import format_intervention, join_steps

__all__ = [
    "EMPTY_BLOCK",
    "encode_chat",
    "perturbed_attempt",
    "prompt_config",
    "solve_with_reference_chat",
    "verification_chat",
    "verification_examples",
    "verification_target",
]

EMPTY_BLOCK = format_intervention("", 0)


def prompt_config(sandbox_cfg: Any) -> dict[str, Any]:
    """The proposer prompt the sandbox model is trained on (``intervention.prompt``'s shape)."""
    return {"system": None, "turn1": str(sandbox_cfg.prompt_turn1), "turn2": str(sandbox_cfg.prompt_turn2)}


def _slip(rng: random.Random, value: int) -> int:
    """A wrong result near ``value``, the kind of slip a character model makes (a digit off)."""
    while True:
        delta = rng.choice([1, 1, 2, 3, 10, 10, 20, 100]) * rng.choice([-1, 1])
        if value + delta >= 0 and delta:
            return value + delta


def _chain(values_from: int, ops: Sequence[tuple[str, int]]) -> list[str]:
    """Detailed steps carrying on correctly from ``values_from`` through ``ops``."""
    steps, value = [], values_from
    for op, operand in ops:
        result = apply_op(value, op, operand)
        steps.append(f"{format_value(value)} {op} {operand} = {format_value(result)}")
        value = result
    return steps + [f"The answer is \\boxed{{{format_value(value)}}}."]


def perturbed_attempt(problem: ArithProblem, rng: random.Random) -> str:
    """A detailed attempt at ``problem`` that is right up to one operation, then wrong there
    (a slip in the result, a misread operand, or the operation skipped) and carried on
    consistently from the wrong value, as the model's own failures are."""
    i = rng.randrange(problem.num_steps)
    values = problem.values
    op, operand = problem.ops[i]
    prefix = [problem.start_step(), *(problem.op_step(j) for j in range(i))]
    kind = rng.choices(["slip", "operand", "skip"], weights=[8, 1, 1])[0]
    if kind == "skip" and i + 1 < problem.num_steps:
        return join_steps(prefix + _chain(values[i], problem.ops[i + 1 :]))
    if kind == "operand":
        wrong = operand + rng.choice([-1, 1])
        if wrong >= (2 if op in "*/" else 1) and wrong != operand:
            return join_steps(prefix + _chain(values[i], ((op, wrong), *problem.ops[i + 1 :])))
    result = _slip(rng, values[i + 1])
    step = f"{format_value(values[i])} {op} {operand} = {format_value(result)}"
    return join_steps([*prefix, step, *_chain(result, problem.ops[i + 1 :])])


def verification_target(problem: ArithProblem, attempt: str) -> str:
    """What the verifier should write for ``attempt``: a compact verification log, then the block.

    The log has a line per substep up to the first wrong one (the paper's "verification log"):
    ``i: <the right step i> ok`` while the attempt agrees, then ``i: <the replacement> wrong``;
    the block holds that replacement and location (the oracle's, :func:`~.oracle.diagnose`).
    Every line is local work (the right step is the next one of turn 1's solution, compared
    with substep i), which a 1M-parameter model can learn. A correct attempt: every line ``ok``
    and :data:`EMPTY_BLOCK`.
    """
    from int_exp.domains.arith.oracle import diagnose

    right = problem.detailed_steps()
    diagnosis = diagnose(problem, attempt)
    if diagnosis.step is None or diagnosis.fix_content is None:
        lines = [f"{i}: {step} ok" for i, step in enumerate(right, start=1)]
        return "\n".join([*lines, EMPTY_BLOCK])
    location = diagnosis.fix_location
    lines = [f"{i}: {right[i - 1] if i <= len(right) else '?'} ok" for i in range(1, location)]
    lines.append(f"{location}: {diagnosis.fix_content} wrong")
    return "\n".join([*lines, format_intervention(diagnosis.fix_content, location)])


def solve_with_reference_chat(problem: ArithProblem, prompt: dict[str, Any]) -> list[dict]:
    """Turn 1's chat: the problem and its terse reference (the sandbox experiment's references)."""
    from int_exp.interventions import proposer_turn1

    return proposer_turn1(problem.text, problem.terse(), prompt)


def verification_chat(problem: ArithProblem, attempt: str, prompt: dict[str, Any]) -> list[dict]:
    """Turn 2's chat as the ``propose`` stage renders it: turn 1 answered with the detailed
    solution, then the numbered attempt."""
    from int_exp.interventions import proposer_turn2

    messages, _ = proposer_turn2(solve_with_reference_chat(problem, prompt), problem.detailed(), attempt,
                                 format_value(problem.answer), prompt)
    return messages


def encode_chat(tokenizer: Any, messages: list[dict], completion: str) -> tuple[list[int], int]:
    """Token ids of ``messages`` + the assistant's ``completion`` and its end, and the length of
    the prompt (the loss covers the rest), rendered exactly as the generation backends do."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return list(prompt_ids) + list(completion_ids), len(prompt_ids)


def verification_examples(
    tokenizer: Any,
    problems: Sequence[ArithProblem],
    own_attempts: Sequence[tuple[ArithProblem, str]],
    prompt: dict[str, Any],
    rng: random.Random,
    *,
    correct_share: float = 0.1,
) -> dict[str, list[tuple[list[int], int]]]:
    """The second phase's examples by task: ``solve_ref`` (turn 1) and ``verify`` (turn 2).

    ``problems`` each give a turn-1 example and a verification example with a perturbed attempt
    (a correct one for ``correct_share`` of them); ``own_attempts`` (the model's failed samples)
    each give a verification example too.
    """
    solve_ref, verify = [], []
    for problem in problems:
        solve_ref.append(encode_chat(tokenizer, solve_with_reference_chat(problem, prompt), problem.detailed()))
        attempt = problem.detailed() if rng.random() < correct_share else perturbed_attempt(problem, rng)
        verify.append(encode_chat(tokenizer, verification_chat(problem, attempt, prompt),
                                  verification_target(problem, attempt)))
    for problem, attempt in own_attempts:
        verify.append(encode_chat(tokenizer, verification_chat(problem, attempt, prompt),
                                  verification_target(problem, attempt)))
    return {"solve_ref": solve_ref, "verify": verify}


def target_pair(problem: ArithProblem, attempt: str) -> str:
    """Probe format: ``i: <attempt's substep i> | <right step i> ok|wrong`` up to the first wrong
    substep, then the block: the comparison is between two strings on one line."""
    from int_exp.domains.arith.oracle import diagnose

    right = problem.detailed_steps()
    steps = attempt.split("\n\n")
    diagnosis = diagnose(problem, attempt)
    last = len(right) if diagnosis.fix_content is None else diagnosis.fix_location
    lines = []
    for i in range(1, last + 1):
        mine = steps[i - 1] if i <= len(steps) else "-"
        wrong = diagnosis.fix_content is not None and i == last
        good = diagnosis.fix_content if wrong else (right[i - 1] if i <= len(right) else "-")
        lines.append(f"{i}: {mine} | {good} {'wrong' if wrong else 'ok'}")
    block = EMPTY_BLOCK if diagnosis.fix_content is None else format_intervention(diagnosis.fix_content, last)
    return "\n".join([*lines, block])
