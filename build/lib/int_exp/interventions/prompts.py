"""The proposer's two-turn chat, its truncation to a token budget, and the reflection prompt.

Prompt texts are config (``conf/intervention/default.yaml``, ``conf/reflect/default.yaml``); their
``{placeholders}`` are filled by :func:`fill_template`, which replaces only the known names: every
other brace is literal, so braces in problems, LaTeX or JSON examples are safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from int_exp.config import setting
from int_exp.interventions.steps import STEP_SEPARATOR, split_steps

TRUNCATION_MARKER = "[... truncated ...]"


def fill_template(template: str, **values: Any) -> str:
    """``str.format`` for prompts, replacing only the given ``{name}`` placeholders.

    Every other brace is literal (LaTeX such as ``\\frac{1}{\\sqrt{2}}``, a JSON example; ``{{``
    stays ``{{``), and the substituted values are never scanned again, so braces in a problem or
    a solution cannot break anything.
    """
    if not values:
        return template
    pattern = re.compile(r"\{(" + "|".join(re.escape(name) for name in values) + r")\}")
    return pattern.sub(lambda m: str(values[m.group(1)]), template)


def _required(cfg: Any, name: str) -> str:
    value = setting(cfg, name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"the proposer prompt config needs a non-empty '{name}' template, got {value!r}")
    return value


def number_steps(attempt: str) -> str:
    """The attempt's steps as ``**Substep 1:** ...``, ``**Substep 2:** ...``, blank-line separated."""
    return _number(split_steps(attempt))


def _number(steps: Sequence[str]) -> str:
    return STEP_SEPARATOR.join(f"**Substep {i}:** {step}" for i, step in enumerate(steps, start=1))


def proposer_turn1(problem: str, reference_solution: str, prompt_cfg: Any) -> list[dict]:
    """Turn 1: an optional system message and the user message (problem + reference solution).

    ``prompt_cfg`` is a mapping or an object (a ``PromptConfig``, a DictConfig) with ``system``
    (optional), ``turn1`` and ``turn2``; ``turn1`` may use ``{problem}`` and ``{reference_solution}``.
    """
    messages = []
    system = setting(prompt_cfg, "system")
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    user = fill_template(_required(prompt_cfg, "turn1"), problem=problem, reference_solution=reference_solution)
    messages.append({"role": "user", "content": user})
    return messages


def _count(count_tokens: Callable[[list[dict]], Any], messages: list[dict]) -> int:
    value = count_tokens(messages)
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        value = value["input_ids"]
    return value if isinstance(value, int) else len(value)


def _cut(text: str, keep: int) -> str:
    """The first ``keep`` characters of ``text`` and the truncation marker (``text`` if all kept)."""
    if keep >= len(text):
        return text
    return (text[:keep].rstrip() + " " + TRUNCATION_MARKER).lstrip()


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The largest x in ``lo..hi`` with ``ok(x)``, ``ok(lo)`` assumed (``ok`` monotone decreasing)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _turn2_builder(
    chat_so_far: list[dict], template: str, answer: str, total: int
) -> Callable[..., list[dict]]:
    """``build(shown, turn1, marker=False)``: the turn-2 chat showing the substeps ``shown``."""

    def build(shown: list[str], turn1: str, marker: bool = False) -> list[dict]:
        numbered = _number(shown)
        if marker:
            numbered = (numbered + STEP_SEPARATOR if numbered else "") + TRUNCATION_MARKER
        user = fill_template(template, numbered_attempt=numbered, answer=answer, num_steps=total)
        return [*(dict(m) for m in chat_so_far), {"role": "assistant", "content": turn1},
                {"role": "user", "content": user}]

    return build


def _cut_attempt(
    build: Callable[..., list[dict]], steps: list[str], turn1_answer: str, fits: Callable[[list[dict]], bool],
    info: dict,
) -> list[dict]:
    """The longest prefix of a non-empty attempt that fits (an empty one does); fills ``info``."""
    total = len(steps)
    attempt_chars = sum(len(step) for step in steps)
    # 1. drop trailing substeps: the most whole substeps that fit, k < total
    kept = _largest(0, total - 1, lambda k: fits(build(steps[:k], turn1_answer, marker=True)))
    # 2. then keep as many characters of the next one as fit (0: none of it)
    step = steps[kept]
    chars = _largest(0, len(step) - 1,
                     lambda c: c == 0 or fits(build([*steps[:kept], _cut(step, c)], turn1_answer)))
    if chars > 0:
        messages = build([*steps[:kept], _cut(step, chars)], turn1_answer)
    else:
        messages = build(steps[:kept], turn1_answer, marker=True)
    info["substeps_shown"] = kept + (chars > 0)
    info["attempt_chars_dropped"] = attempt_chars - sum(len(s) for s in steps[:kept]) - chars
    return messages


def _cut_turn1(
    build: Callable[..., list[dict]], steps: list[str], turn1_answer: str, fits: Callable[[list[dict]], bool],
    info: dict,
) -> list[dict]:
    """No attempt and the longest beginning of the turn-1 answer that fits (if any); fills ``info``."""
    # 3. an empty attempt is still too long: cut the turn-1 answer too, keeping its beginning
    marker = len(steps) > 0
    keep = _largest(0, max(len(turn1_answer) - 1, 0),
                    lambda c: c == 0 or fits(build([], _cut(turn1_answer, c), marker=marker)))
    turn1 = _cut(turn1_answer, keep)
    messages = build([], turn1, marker=marker)
    info["substeps_shown"] = 0
    info["attempt_chars_dropped"] = sum(len(step) for step in steps)
    info["turn1_chars_dropped"] = len(turn1_answer) - keep
    return messages


def proposer_turn2_detailed(
    chat_so_far: list[dict],
    turn1_answer: str,
    attempt: str,
    answer: str,
    prompt_cfg: Any,
    *,
    max_prompt_tokens: int | None = None,
    count_tokens: Callable[[list[dict]], Any] | None = None,
) -> tuple[list[dict], dict]:
    """:func:`proposer_turn2` with the details of any truncation.

    Returns ``(messages, info)`` with ``info``: ``truncated`` (bool), ``substeps_shown`` (whole or
    partial substeps left of the attempt), ``substeps_total``, ``attempt_chars_dropped``,
    ``turn1_chars_dropped``, ``tokens`` (the final count; None when not counted) and ``fits``
    (False when even an empty attempt and an empty turn-1 answer exceed the budget: the messages
    are then the smallest this function makes, and the caller's engine must cope).
    """
    template = _required(prompt_cfg, "turn2")
    steps = split_steps(attempt)
    total = len(steps)
    turn1_answer = "" if turn1_answer is None else str(turn1_answer)
    build = _turn2_builder(chat_so_far, template, answer, total)
    info: dict = {"truncated": False, "substeps_shown": total, "substeps_total": total,
                  "attempt_chars_dropped": 0, "turn1_chars_dropped": 0, "tokens": None, "fits": True}
    messages = build(steps, turn1_answer)
    if max_prompt_tokens is None:
        return messages, info
    if count_tokens is None:
        raise ValueError("max_prompt_tokens needs count_tokens (a callable counting a chat's prompt tokens)")

    def fits(msgs: list[dict]) -> bool:
        return _count(count_tokens, msgs) <= max_prompt_tokens

    info["tokens"] = _count(count_tokens, messages)
    if info["tokens"] <= max_prompt_tokens:
        return messages, info
    info["truncated"] = True
    if total and fits(build([], turn1_answer, marker=True)):
        messages = _cut_attempt(build, steps, turn1_answer, fits, info)
    else:
        messages = _cut_turn1(build, steps, turn1_answer, fits, info)
    info["tokens"] = _count(count_tokens, messages)
    info["fits"] = info["tokens"] <= max_prompt_tokens
    return messages, info


def proposer_turn2(chat_so_far: list[dict], turn1_answer: str, attempt: str, answer: str, prompt_cfg: Any,
                   **budget: Any) -> tuple[list[dict], bool]:
    """Turn 2: ``chat_so_far`` + the turn-1 answer (assistant) + the verification request (user).

    The ``turn2`` template may use ``{numbered_attempt}`` (:func:`number_steps`), ``{answer}`` (the
    correct final answer, for the no-leak self-check) and ``{num_steps}``. ``chat_so_far`` is not
    modified.

    Truncation (``budget``): with ``max_prompt_tokens`` and ``count_tokens`` (a callable giving the token count
    of a chat rendered with its template AND the generation prompt; a list of ids or a
    ``BatchEncoding`` is accepted too), a prompt over budget is shortened by cutting the attempt:
    trailing substeps are dropped, then characters of the last one shown, with a
    ``[... truncated ...]`` marker; only if an empty attempt is still too long is the turn-1
    answer cut (its beginning is kept). The messages are cut, never the rendered prompt, so the
    generation prompt always ends it. ``{num_steps}`` stays the attempt's full step count.

    Returns:
        ``(messages, truncated)``; :func:`proposer_turn2_detailed` also says how much was cut.
    """
    messages, info = proposer_turn2_detailed(chat_so_far, turn1_answer, attempt, answer, prompt_cfg, **budget)
    return messages, info["truncated"]


def reflect_chat(problem: str, reference_solution: str, attempt: str, prompt: str) -> list[dict]:
    """The self-reflection baseline's chat: one user message, ``prompt`` with ``{problem}``,
    ``{reference_solution}`` and ``{attempt}`` filled in."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"reflect.prompt must be a non-empty template, got {prompt!r}")
    content = fill_template(prompt, problem=problem, reference_solution=reference_solution, attempt=attempt)
    return [{"role": "user", "content": content}]
