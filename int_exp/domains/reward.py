"""The RL reward every domain gives through its grader: 1.0 for a correct final answer, else 0.0.

The training stages pass :func:`correctness_reward` to the trainer (``reward_fn``); GRPO calls it
with TRL's reward contract. Each completion is graded by the domain of its problem's ``source``.
"""

from __future__ import annotations

from typing import Any

from int_exp.domains import DEFAULT_DOMAIN, grade_by_source


def completion_text(completion: Any) -> str:
    """Text of a completion: a string, or the assistant messages of a conversational completion.

    >>> completion_text([{"role": "assistant", "content": "4"}])
    '4'
    """
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role", "assistant") == "assistant")


def correctness_reward(completions: list, answer: list, source: list | None = None, **kwargs: Any) -> list[float]:
    """Binary outcome reward: 1.0 when a completion's final answer matches the gold answer, else 0.0.

    TRL reward-function contract: ``completions`` are conversational (``[{"role": "assistant",
    "content": ...}]``) or plain strings; ``answer`` is the dataset column of gold answers (one per
    completion, repeated across a group), ``source`` the problems' sources, which pick each
    problem's domain grader (math's when absent); other columns arrive in ``kwargs``, ignored.
    """
    texts = [completion_text(c) for c in completions]
    sources = [str(s) for s in source] if source is not None else [DEFAULT_DOMAIN] * len(texts)
    return [1.0 if ok else 0.0 for ok in grade_by_source(texts, [str(a) for a in answer], sources)]
