"""Stage `rl`: reinforcement learning by the trainer ``rl.trainer`` names (default ``grpo``: TRL
GRPOTrainer), with a binary correctness reward from each problem's domain grader.

Starts from the SFT checkpoint when the variant trains one, else from the base model. Prompts are
the training problems (``rl.problems=all``) or only those with no correct rollout
(``rl.problems=unsolved``: the paper's hard set, the same problems InT patches, where plain GRPO
starts without any reward signal); with ``rl.hints`` (hint-guided RL baseline) each prompt also
carries the first ``rl.hint_fraction`` of the reference solution's steps. ``rl.source`` (the
paper's ``hf:CMU-AIRe/InT-RL``) replaces both: GRPO on that set's problems and answers. With
``failures.source`` set, ``unsolved`` means the problems of those published attempts (no rollouts
are sampled). Logs reward,
``frac_reward_zero_std`` (the share of groups with no learning signal, which InT is meant to lower)
and completion length.
"""

from __future__ import annotations

import math

import pandas as pd

from int_exp.data import published
from int_exp.interventions.steps import join_steps, split_steps
from int_exp.pipeline.stage import EmptyStageError, Stage, StageContext, StageOutput
from int_exp.stages.common import hard_set_stage, train, trainer_reads, user_prompt, warn_too_long

# What the stage reads; its trainer's keys (`rl.trainer`, int_exp/training) are added by reads().
# rl.max_completion_length is a setting of the grpo trainer (always in the schema): prompts that
# leave no room for a completion are skipped.
READS = ["rl.hints", "rl.hint_fraction", "rl.problems", "rl.max_completion_length", "rl.num_processes",
         "rl.accelerate_config", "data.prompt_template", "model.max_context"]
# rl.problems -> the stage that lists them (unsolved: the hard set, see hard_set_stage)
PROBLEM_SETS = {"all": "problems", "unsolved": "rollouts"}
HINT_PREFIX = "\n\nHint (the beginning of a solution):\n"


def hint(reference_solution: str, fraction: float) -> str:
    """The first ``fraction`` of the reference solution's steps (at least one step).

    >>> hint("a\\n\\nb\\n\\nc\\n\\nd", 0.5)
    'a\\n\\nb'
    """
    steps = split_steps(reference_solution or "")
    return join_steps(steps[: max(1, math.floor(len(steps) * fraction))]) if steps else ""


def reads(cfg) -> list[str]:
    return READS + trainer_reads(cfg, "rl") + (published.reads("rl") if published.source(cfg, "rl") else [])


def problem_stage(cfg) -> str:
    if cfg.rl.problems not in PROBLEM_SETS:
        raise ValueError(f"rl.problems must be one of {sorted(PROBLEM_SETS)}, got {cfg.rl.problems!r}")
    return hard_set_stage(cfg) if cfg.rl.problems == "unsolved" else PROBLEM_SETS[cfg.rl.problems]


def inputs(cfg, plan) -> dict[str, str]:
    policy = {"policy": plan.policy_before("rl")}
    return policy if published.source(cfg, "rl") else {**policy, "problems": problem_stage(cfg)}


def problem_rows(ctx: StageContext) -> list[dict]:
    """The training problems: ``rl.source``'s, or the problems stage's, or the unsolved ones (one
    row per problem of the rollouts, or of the published attempts the failures stage read)."""
    if published.source(ctx.cfg, "rl"):
        return published.read_published("rl", ctx.cfg.rl).to_dict("records")
    rows = ctx.inputs["problems"].rows()
    if ctx.cfg.rl.problems != "unsolved":
        return rows
    unsolved = [row for row in rows if row.get("num_correct", row.get("problem_correct", 0)) == 0]
    return list({row["problem_id"]: row for row in unsolved}.values())


def prompts(ctx: StageContext) -> list[dict]:
    cfg = ctx.cfg
    rows = []
    for row in problem_rows(ctx):
        text = user_prompt(row["problem"], cfg.data.prompt_template)
        if cfg.rl.hints and hint(row["reference_solution"], cfg.rl.hint_fraction):
            text += HINT_PREFIX + hint(row["reference_solution"], cfg.rl.hint_fraction)
        rows.append({"prompt": [{"role": "user", "content": text}], "answer": str(row["answer"]),
                     "source": str(row["source"])})  # picks the reward's grader
    return rows


def fitting(ctx: StageContext, data: list[dict]) -> tuple[list[dict], int]:
    """The prompts whose chat rendering plus ``rl.max_completion_length`` fits the context (that
    of the sampling stages: ``model.max_context``, or the policy's own if smaller), and how many
    did not: skipped and counted, as the sampling stages skip prompts that fill it (GRPO gives
    every completion the same length, so it cannot clip one; one oversized problem would
    otherwise make it allocate for its full length)."""
    from transformers import AutoConfig

    from int_exp.backends.hf import context_limit, encode_chats
    from int_exp.models import load_tokenizer

    path = ctx.inputs["policy"].model_path
    context = context_limit(ctx.cfg.model.max_context, AutoConfig.from_pretrained(str(path)))
    if context is None:
        return data, 0
    room = context - int(ctx.cfg.rl.max_completion_length)
    lengths = [len(ids) for ids in encode_chats(load_tokenizer(path), [row["prompt"] for row in data])]
    kept = [row for row, length in zip(data, lengths) if length <= room]
    warn_too_long(ctx, "rl", len(data) - len(kept), len(data),
                  f" with rl.max_completion_length={ctx.cfg.rl.max_completion_length}")
    return kept, len(data) - len(kept)


def run(ctx: StageContext) -> StageOutput:
    data, too_long = fitting(ctx, prompts(ctx))
    if not data:
        entered = published.source(ctx.cfg, "rl")
        where = (f"rl.source={entered} has no rows" if entered else
                 f"rl.problems={ctx.cfg.rl.problems} selects none of the `{ctx.inputs['problems'].stage}` stage's rows")
        raise EmptyStageError(f"rl has no training problems: {where} that fit the context ({too_long} too long)")
    final, history = train(ctx, data, ctx.inputs["policy"].model_path, "rl")
    metrics = {f"rl/{k}": v for k, v in final.items() if isinstance(v, (int, float))}
    metrics["rl/problems"] = len(data)
    metrics["rl/prompts_too_long"] = too_long
    for key in ("reward", "frac_reward_zero_std", "completions/mean_length"):
        values = [h[key] for h in history if key in h]
        if values:
            metrics[f"rl/mean_{key.replace('/', '_')}"] = sum(values) / len(values)
    table = pd.DataFrame({"prompt": [r["prompt"][0]["content"] for r in data], "answer": [r["answer"] for r in data]})
    summary = {"lineage": {"rl.source": published.lineage(ctx.cfg.rl)}} if published.source(ctx.cfg, "rl") else {}
    return StageOutput(tables={"main": table}, metrics=metrics, model="model", summary=summary)


STAGE = Stage(name="rl", version="2", reads=reads, inputs=inputs, run=run,
              description=__doc__, policy=True, trains="rl")
