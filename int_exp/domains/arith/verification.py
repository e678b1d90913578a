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

The verification log (:func:`verification_target`) copies the attempt substep by substep and
writes :data:`MARK` just before the first character where a substep departs from the right
step, then the block with the right step. The judgement sits where the model's own solving and
its copy of the attempt disagree (``9 - 3 = !4``), a local decision; a verdict written after a
copied line (``9 - 3 = 4 wrong``) was never learnt (docs/results/2026-12-05-sandbox-verification-copy/,
and -mark/ for this format).

Tasks (:func:`verification_examples`):

* ``solve_ref``, turn 1: the problem and its terse reference, answered with the detailed solution;
* ``verify``, turn 2: turn 1's chat with its correct detailed answer, then the numbered attempt;
  attempts are the model's own failed samples (drawn between the two training phases) and
  perturbed solutions (:func:`perturbed_attempt`) whose first error looks like the model's (most
  often another step's operation read), the rest carried on from the wrong value; a share of
  correct attempts teaches the empty block;
* ``mark``, dense practice of the judgement in the same chat: every operation of the attempt off
  with probability 0.3 and carried on (:func:`noisy_attempt`), the whole attempt copied with
  every local departure marked (:func:`mark_target`); and ``mark_short``, the same on 2-5
  operation problems in one short turn;
* ``copy``: a random string of the solutions' characters copied (:func:`copy_string_chat`), the
  classic task on which copy (induction) heads form: short chats, so cheap steps. Without copy
  heads the model writes what its solver would write instead of the attempt.

The loss covers the final assistant message only. The log copies wrong steps, but always under
the prompt's ``**Substep i:**`` headers, never as a solution.

Which of these the build trains, and for how long: :mod:`.verification_training`; what each
recipe reached: docs/results/2026-12-05-sandbox-verification-mark/.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from int_exp.domains.arith.problem import ArithProblem, apply_op, format_value
from int_exp.interventions.steps import STEP_SEPARATOR, format_intervention, join_steps

__all__ = [
    "EMPTY_BLOCK",
    "MARK",
    "copy_string_chat",
    "encode_chat",
    "mark_chat",
    "mark_target",
    "noisy_attempt",
    "perturbed_attempt",
    "prompt_config",
    "solve_with_reference_chat",
    "verification_chat",
    "verification_examples",
    "verification_target",
]

EMPTY_BLOCK = format_intervention("", 0)
MARK = "!"  # written just before the first character where a substep departs from the right step
MARK_TURN2 = "Mark the attempt ({num_steps} substeps).\n\n{numbered_attempt}"  # the mark tasks' turn 2
COPY_CHARACTERS = "0123456789+-*= "  # what the copy task's strings are made of


def prompt_config(sandbox_cfg: Any) -> dict[str, Any]:
    """The proposer prompt the sandbox model is trained on (``intervention.prompt``'s shape)."""
    return {"system": None, "turn1": str(sandbox_cfg.prompt_turn1), "turn2": str(sandbox_cfg.prompt_turn2)}


def _slip(rng: random.Random, value: int) -> int:
    """A wrong result near ``value``, the kind of slip a character model makes (a digit off)."""
    while True:
        delta = rng.choice([1, 1, 2, 3, 10, 10, 20, 100]) * rng.choice([-1, 1])
        if value + delta >= 0 and delta:
            return value + delta


def _step(value: int, op: str, operand: int, result: int | None = None) -> str:
    """A detailed step from ``value`` (its right result unless ``result`` is given)."""
    result = apply_op(value, op, operand) if result is None else result
    return f"{format_value(value)} {op} {operand} = {format_value(result)}"


def _answer_step(value: int) -> str:
    return f"The answer is \\boxed{{{format_value(value)}}}."


def _result(step: str) -> int:
    return int(step.rsplit("= ", 1)[1])


def _chain(values_from: int, ops: Sequence[tuple[str, int]]) -> list[str]:
    """Detailed steps carrying on correctly from ``values_from`` through ``ops``."""
    steps, value = [], values_from
    for op, operand in ops:
        steps.append(_step(value, op, operand))
        value = apply_op(value, op, operand)
    return steps + [_answer_step(value)]


def _wrong_step(problem: ArithProblem, i: int, value: int, rng: random.Random) -> str:
    """Operation ``i`` (0-based) applied to ``value`` the way the model gets it wrong: most often
    another step's operation read in its place, else an operand or the operation off, or a slip
    in the result (the sandbox model's failures are mostly misreads: docs/results/2026-12-05-*)."""
    op, operand = problem.ops[i]
    kind = rng.choices(["other", "operand", "op", "slip"], weights=[4, 2, 1, 2])[0]
    others = [o for o in problem.ops if o != (op, operand)]
    if kind == "other" and others:
        op, operand = rng.choice(others)
    elif kind == "operand":
        operand = max(1, operand + rng.choice([-2, -1, 1, 2]))
    elif kind == "op":
        op = rng.choice([o for o in "+-*" if o != op])
        operand = min(operand, 3) if op == "*" else operand
    result = apply_op(value, op, operand)
    if kind == "slip" or (op, operand) == problem.ops[i] or result < 0:
        op, operand = problem.ops[i]
        result = _slip(rng, apply_op(value, op, operand))
    return _step(value, op, operand, result)


def perturbed_attempt(problem: ArithProblem, rng: random.Random) -> str:
    """A detailed attempt at ``problem`` that is right up to one operation, then wrong there
    (:func:`_wrong_step`, or the operation skipped) and carried on consistently from the wrong
    value, as the model's own failures are."""
    i = rng.randrange(problem.num_steps)
    value = problem.values[i]
    prefix = [problem.start_step(), *(problem.op_step(j) for j in range(i))]
    if rng.random() < 0.15 and i + 1 < problem.num_steps:
        return join_steps(prefix + _chain(value, problem.ops[i + 1 :]))
    step = _wrong_step(problem, i, value, rng)
    return join_steps([*prefix, step, *_chain(_result(step), problem.ops[i + 1 :])])


def noisy_attempt(problem: ArithProblem, rng: random.Random, rate: float = 0.3) -> str:
    """The mark tasks' attempt: each operation wrong (:func:`_wrong_step`) with probability
    ``rate``, independently, and carried on from the value written, as the model's attempts are:
    most examples hold several wrong steps, each locally wrong (:func:`mark_target`). Drawn again
    as soon as a value goes below zero (the model has never seen one, and a slip from a value far
    below zero has no non-negative result to find); after 50 draws, the right solution."""
    for _ in range(50):
        steps, value = [problem.start_step()], problem.start
        for i in range(problem.num_steps):
            step = _wrong_step(problem, i, value, rng) if rng.random() < rate else _step(value, *problem.ops[i])
            steps.append(step)
            value = _result(step)
            if value < 0:
                break
        else:
            return join_steps([*steps, _answer_step(value)])
    return problem.detailed()


def _departure(mine: str, right: str) -> int | None:
    """Index of the first character where ``mine`` departs from ``right`` (None: the same)."""
    if mine == right:
        return None
    return next((j for j, (a, b) in enumerate(zip(mine, right)) if a != b), min(len(mine), len(right)))


def _marked(step: str, right: str) -> str:
    """``step`` with :data:`MARK` before its first departure from ``right`` (unchanged if none)."""
    j = _departure(step, right)
    return step if j is None else step[:j] + MARK + step[j:]


def _log(steps: list[str]) -> str:
    """The log's substeps, numbered exactly as the prompt numbers the attempt
    (:func:`~int_exp.interventions.prompts.number_steps`): the header the model writes is the one
    it looks up, so copying substep i is a plain lookup."""
    from int_exp.interventions.prompts import number_steps

    return number_steps(join_steps(steps))


def mark_target(problem: ArithProblem, attempt: str) -> str:
    """The mark tasks' target: the numbered attempt, :data:`MARK` before the first character
    where each substep departs from the step that should follow the one before it (the
    problem's operation applied to the value the attempt carries), so the mark falls where the
    model's own next character and the attempt's disagree, and the copy goes on from there."""
    lines, expected = [], problem.start_step()
    for i, step in enumerate(attempt.split(STEP_SEPARATOR), start=1):
        lines.append(_marked(step, expected))
        if i > problem.num_steps + 1:
            break  # the answer line
        value = _result(step) if i > 1 else problem.start
        expected = _step(value, *problem.ops[i - 1]) if i <= problem.num_steps else _answer_step(value)
    return _log(lines)


def verification_target(problem: ArithProblem, attempt: str) -> str | None:
    """What the verifier should write for ``attempt``: the verification log, then the block.

    The log copies the numbered attempt (``**Substep i:** ...``) up to the first substep that
    departs from the right step, which it cuts at the departure with :data:`MARK`; the block replaces
    that substep with the right step (the oracle's content and location,
    :func:`~.oracle.diagnose`). A correct attempt: every substep copied and :data:`EMPTY_BLOCK`.
    None where the first departure is not the oracle's first error (an attempt the log cannot
    describe: never for perturbed attempts).
    """
    from int_exp.domains.arith.oracle import diagnose

    right, mine = problem.detailed_steps(), attempt.split(STEP_SEPARATOR)
    diagnosis = diagnose(problem, attempt)
    lines = []
    for i, step in enumerate(right, start=1):
        theirs = mine[i - 1] if i <= len(mine) else ""
        j = _departure(theirs, step)
        if j is not None:
            if diagnosis.fix_location != i or diagnosis.fix_content is None:
                return None
            return join_steps([_log([*lines, theirs[:j] + MARK]), format_intervention(diagnosis.fix_content, i)])
        lines.append(theirs)
    if len(mine) > len(right) or diagnosis.fix_content is not None:
        return None
    return join_steps([_log(lines), EMPTY_BLOCK])


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


def mark_chat(problem: ArithProblem, attempt: str, prompt: dict[str, Any], *, short: bool = False) -> list[dict]:
    """The mark task's chat: :func:`verification_chat` asking to mark (:data:`MARK_TURN2`), or,
    ``short``, one user turn with the problem and the numbered attempt."""
    messages = verification_chat(problem, attempt, {**prompt, "turn2": MARK_TURN2})
    if not short:
        return messages
    return [{"role": "user", "content": problem.text + "\n" + messages[-1]["content"]}]


def copy_string_chat(rng: random.Random) -> tuple[list[dict], str]:
    """The copy task: ``Copy: <s>`` for a random string ``s`` of 20-60 :data:`COPY_CHARACTERS`,
    and its target ``s``."""
    text = "".join(rng.choice(COPY_CHARACTERS) for _ in range(rng.randint(20, 60))).strip() or "0"
    return [{"role": "user", "content": "Copy: " + text}], text


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
    short_problems: Sequence[ArithProblem] = (),
    copies: int = 0,
    correct_share: float = 0.1,
) -> dict[str, list[tuple[list[int], int]]]:
    """The second phase's examples by task: ``solve_ref``, ``verify``, ``mark``, ``mark_short``
    and ``copy``.

    ``problems`` each give a turn-1 example, a verification example with a perturbed attempt (a
    correct one for ``correct_share`` of them) and a mark example; ``own_attempts`` (the model's
    failed samples) each give a verification example where the log can describe them;
    ``short_problems`` each give a short mark example; ``copies`` copy examples are drawn.
    """
    pools: dict[str, list[tuple[list[int], int]]] = {"solve_ref": [], "verify": [], "mark": [], "mark_short": [],
                                                     "copy": []}
    for problem in problems:
        pools["solve_ref"].append(encode_chat(tokenizer, solve_with_reference_chat(problem, prompt), problem.detailed()))
        attempt = problem.detailed() if rng.random() < correct_share else perturbed_attempt(problem, rng)
        target = verification_target(problem, attempt)
        if target is not None:
            pools["verify"].append(encode_chat(tokenizer, verification_chat(problem, attempt, prompt), target))
        noisy = noisy_attempt(problem, rng)
        pools["mark"].append(encode_chat(tokenizer, mark_chat(problem, noisy, prompt), mark_target(problem, noisy)))
    for problem, attempt in own_attempts:
        target = verification_target(problem, attempt)
        if target is not None:
            pools["verify"].append(encode_chat(tokenizer, verification_chat(problem, attempt, prompt), target))
    for problem in short_problems:
        noisy = noisy_attempt(problem, rng)
        pools["mark_short"].append(encode_chat(tokenizer, mark_chat(problem, noisy, prompt, short=True),
                                               mark_target(problem, noisy)))
    for _ in range(copies):
        pools["copy"].append(encode_chat(tokenizer, *copy_string_chat(rng)))
    return pools
