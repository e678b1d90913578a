"""SFT examples: what each variant shows the model, what it trains on, and where it stops.

An example is ``{problem, context, target, eos}``. The prompt is the problem as a user turn (chat
template with the generation prompt) followed by ``context``, assistant text the model sees but is
not trained on; ``target`` is the assistant text it is trained on; ``context + target`` is exactly
the assistant trajectory. ``eos`` says whether the end-of-turn token closes the target.

For a failed attempt with steps s1..sT, an intervention I at step N (replacing sN, the first
error) and a guided continuation G (the paper's ablations, Table 4):

==============================  ==============================  ==============================  =====
flags                           context                         target                          eos
==============================  ==============================  ==============================  =====
prefix (InT)                    ""                              s1..s(N-1) + "\\n\\n" + I       no
no prefix                       s1..s(N-1) + "\\n\\n"           I                               no
prefix + suffix                 ""                              s1..s(N-1) + "\\n\\n" + I + G   yes
no prefix + suffix              s1..s(N-1) + "\\n\\n"           I + G                           yes
==============================  ==============================  ==============================  =====

A target that stops mid-solution gets no end-of-turn token: the model must learn to *continue*
after the intervention, not to stop there. Complete solutions (suffix cloning, reference
solutions, reflection rewrites) end with it.

Pure logic at import time; :func:`tokenize_example` takes any Hugging Face tokenizer.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from typing import Any

from int_exp.interventions.steps import STEP_SEPARATOR, join_steps, split_steps

log = logging.getLogger(__name__)

SOURCES = ("interventions", "reference", "reflection", "published")
IGNORE_INDEX = -100  # label of tokens that do not contribute to the loss (PyTorch's default)


def _missing(value: Any) -> bool:
    """None, NaN (pandas' missing float) or not there at all."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _intervention(row: dict) -> tuple[str, int]:
    intervention = row.get("intervention")
    if isinstance(intervention, str):  # a JSON-encoded cell
        intervention = json.loads(intervention)
    if (
        not isinstance(intervention, dict)
        or _missing(intervention.get("content"))
        or _missing(intervention.get("location"))
    ):
        raise ValueError(f"row has no usable 'intervention' {{content, location}}: {intervention!r}")
    return str(intervention["content"]), int(intervention["location"])


def guided_prefix(row: dict) -> str:
    """The steps before the intervention, s1..s(N-1), each followed by the step separator ("" when N=1)."""
    _, location = _intervention(row)
    steps = split_steps(row["incorrect_attempt"])
    if not 1 <= location <= len(steps):
        raise ValueError(
            f"intervention location {location} is outside the attempt's steps 1..{len(steps)} "
            f"(problem: {str(row.get('problem'))[:80]!r})"
        )
    prefix = join_steps(steps[: location - 1])
    return prefix + STEP_SEPARATOR if prefix else ""


def build_example(row: dict, clone_prefix: bool, clone_suffix: bool) -> dict:
    """One SFT example from an intervention row (see the module docstring for the four variants).

    Args:
        row: a row with ``problem``, ``incorrect_attempt``, ``intervention`` {content, location}
            (1-based step index of the first error), optionally ``intervention_guided_attempt``
            (checked against the rebuilt one) and ``guided_completion`` (needed for suffix cloning).
        clone_prefix: train on the steps before the intervention (InT) instead of only showing them.
        clone_suffix: also train on the guided continuation, ending with end-of-turn.

    Returns:
        ``{"problem", "context", "target", "eos"}``.

    Raises:
        ValueError: unusable intervention, location outside the attempt, a stored
            ``intervention_guided_attempt`` that disagrees, or ``clone_suffix`` without a
            ``guided_completion``.
    """
    content, _ = _intervention(row)
    prefix = guided_prefix(row)
    guided = prefix + content
    stored = row.get("intervention_guided_attempt")
    if not _missing(stored) and stored != guided:
        raise ValueError(
            "intervention_guided_attempt disagrees with steps 1..N-1 of incorrect_attempt + the intervention "
            f"(stored {str(stored)[-80:]!r}, rebuilt {guided[-80:]!r})"
        )
    context, target = ("", guided) if clone_prefix else (prefix, content)
    if clone_suffix:
        completion = row.get("guided_completion")
        if _missing(completion):
            raise ValueError(
                "sft.clone_suffix=true needs the 'guided_completion' column (a correct continuation of the "
                "intervention-guided attempt, written by the correctness_filter stage); this row has none"
            )
        target += str(completion)
    return {"problem": row["problem"], "context": context, "target": target, "eos": bool(clone_suffix)}


def reference_example(row: dict) -> dict:
    """The reference-solution baseline: the whole reference solution, ending with end-of-turn."""
    if _missing(row.get("reference_solution")):
        raise ValueError("sft.data=reference needs the 'reference_solution' column; this row has none")
    return {"problem": row["problem"], "context": "", "target": str(row["reference_solution"]), "eos": True}


def reflection_example(row: dict) -> dict:
    """The self-reflection baseline: the model's rewrite of its failed attempt, ending with end-of-turn."""
    if _missing(row.get("reflection")):
        raise ValueError(
            "sft.data=reflection needs the 'reflection' column (from the reflect stage); this row has none"
        )
    return {"problem": row["problem"], "context": "", "target": str(row["reflection"]), "eos": True}


def published_example(row: dict) -> dict:
    """A published intervention-guided attempt (the paper's InT-SFT set): prefix + intervention as
    one target, as InT's own examples with ``clone_prefix``; it stops mid-solution, so no end-of-turn.

    >>> published_example({"problem": "p", "intervention_guided_attempt": "s1\\n\\nI"})["eos"]
    False
    """
    if _missing(row.get("intervention_guided_attempt")) or not str(row["intervention_guided_attempt"]).strip():
        raise ValueError("sft.data=published needs a non-empty 'intervention_guided_attempt'; this row has none")
    return {"problem": row["problem"], "context": "", "target": str(row["intervention_guided_attempt"]), "eos": False}


# sft.data -> the example of one row (interventions take the clone flags: build_example)
ROW_EXAMPLES = {"reference": reference_example, "reflection": reflection_example, "published": published_example}


def build_examples(rows: Iterable[dict], source: str, clone_prefix: bool, clone_suffix: bool) -> list[dict]:
    """Examples for ``sft.data`` = ``interventions`` | ``reference`` | ``reflection`` | ``published``.

    The clone flags only apply to interventions.
    """
    if source == "interventions":
        return [build_example(row, clone_prefix, clone_suffix) for row in rows]
    if source in ROW_EXAMPLES:
        return [ROW_EXAMPLES[source](row) for row in rows]
    raise ValueError(f"unknown SFT source {source!r}: expected one of {list(SOURCES)}")


def prompt_text(example: dict, tokenizer: Any) -> str:
    """The chat-templated problem with the generation prompt, then the (untrained) context."""
    chat = [{"role": "user", "content": example["problem"]}]
    return (
        tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + example["context"]
    )


def completion_text(example: dict, tokenizer: Any) -> str:
    """The target, closed by the tokenizer's end-of-turn token (``eos_token``) only when ``eos``."""
    return example["target"] + (tokenizer.eos_token if example["eos"] else "")


def tokenize_example(example: dict, tokenizer: Any, max_length: int | None) -> dict | None:
    """``input_ids`` and ``completion_mask`` (1 on target tokens) for one example.

    Prompt and completion are tokenised separately (no special tokens beyond those written by the
    chat template) and concatenated, so the boundary is exact. Sequences longer than
    ``max_length`` lose their end (the prompt is kept); an example whose prompt alone fills
    ``max_length`` returns ``None`` (nothing to train on), as does one with an empty completion.
    """
    prompt_ids = tokenizer(prompt_text(example, tokenizer), add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(completion_text(example, tokenizer), add_special_tokens=False)["input_ids"]
    if max_length is not None:
        if len(prompt_ids) >= max_length:
            return None
        completion_ids = completion_ids[: max_length - len(prompt_ids)]
    if not completion_ids:
        return None
    return {
        "input_ids": list(prompt_ids) + list(completion_ids),
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
    }


def tokenize_examples(examples: list[dict], tokenizer: Any, max_length: int | None) -> tuple[list[dict], int]:
    """Tokenise every example; returns the kept ones and how many were dropped (with a warning)."""
    kept = [t for t in (tokenize_example(e, tokenizer, max_length) for e in examples) if t is not None]
    dropped = len(examples) - len(kept)
    if dropped:
        log.warning(
            "dropped %d of %d SFT examples whose prompt alone fills max_length=%s (or whose target is empty)",
            dropped,
            len(examples),
            max_length,
        )
    return kept, dropped


def labels_of(tokenized: dict) -> list[int]:
    """Causal-LM labels: the token where ``completion_mask`` is 1, else ``IGNORE_INDEX``."""
    return [
        tok if bit else IGNORE_INDEX for tok, bit in zip(tokenized["input_ids"], tokenized["completion_mask"])
    ]
