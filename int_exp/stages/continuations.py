"""Stage `continuations` (formerly `guided_sampling`): continue each intervention-guided attempt and grade the outcomes.

The assistant message (prefix + intervention) is *continued* (continue-final-message mode, not
a new turn) ``intervention.filter_samples`` times (paper: 32). A continuation is appended
verbatim to the guided attempt, and the whole trajectory is graded.

Intervention effectiveness (the paper's 0.07% -> 1.56% mean reward, 22x, and 29 -> 80 of 334
problems solved), on the problems that have a continued intervention: ``intervention/rollout_reward``
(the share of the original rollouts that were correct; with ``failures.source``, the published
attempts, all incorrect), ``intervention/continuation_reward`` (the
share of continuations from prefix + intervention that are), their ratio
``intervention/effectiveness``, and ``intervention/solved_by_rollouts`` /
``intervention/solved_by_continuations`` of ``intervention/problems``.
"""

from __future__ import annotations

import pandas as pd

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages.common import (
    GENERATION_READS,
    generate,
    grade_samples,
    hard_set_stage,
    sampling_params,
    skip_unsampled,
    user_prompt,
)

READS = GENERATION_READS + ["intervention.filter_samples", "data.prompt_template"]


def run(ctx: StageContext) -> StageOutput:
    table = ctx.inputs["interventions"].table()
    chats = [
        [{"role": "user", "content": user_prompt(problem, ctx.cfg.data.prompt_template)},
         {"role": "assistant", "content": guided}]
        for problem, guided in zip(table["problem"], table["intervention_guided_attempt"])
    ]
    params = sampling_params(ctx.cfg.sampling, ctx.cfg.intervention.filter_samples)
    continuations = generate(ctx, ctx.inputs["policy"].model_path, chats, params, desc="guided rollouts")
    table, continuations, skipped = skip_unsampled(ctx, "continuations", table, continuations)
    trajectories = [[guided + c for c in group] for guided, group in zip(table["intervention_guided_attempt"], continuations)]
    verdicts = grade_samples(trajectories, list(table["answer"]), list(table["source"]))
    table = table.assign(continuations=continuations, continuation_verdicts=verdicts,
                         guided_correct=[sum(v) for v in verdicts])
    metrics = {
        "funnel/guided_rollouts": sum(len(g) for g in continuations),
        "funnel/guided_rollouts_correct": int(table["guided_correct"].sum()) if len(table) else 0,
        **effectiveness(table, attempt_verdicts(ctx.inputs["rollouts"].table())),
        **skipped,
    }
    return StageOutput(tables={"main": table}, metrics=metrics)


def attempt_verdicts(attempts: pd.DataFrame) -> pd.DataFrame:
    """``problem_id`` and ``verdicts`` per problem: the rollouts as they are, or the failures
    stage's published attempts (each incorrect, plus ``problem_correct`` correct ones).

    >>> attempt_verdicts(pd.DataFrame({"problem_id": ["a", "a"], "problem_correct": [1, 1]}))["verdicts"].tolist()
    [[False, False, True]]
    """
    if "verdicts" in attempts:
        return attempts
    grouped = attempts.groupby("problem_id", sort=False)["problem_correct"].agg(["size", "first"])
    return pd.DataFrame({"problem_id": grouped.index,
                         "verdicts": [[False] * n + [True] * int(c) for n, c in zip(grouped["size"], grouped["first"])]})


def effectiveness(continued: pd.DataFrame, rollouts: pd.DataFrame) -> dict[str, float]:
    """Rewards and problems solved, before (original rollouts) and after (continuations from prefix
    + intervention), on the problems that have at least one continued intervention.

    >>> rollouts = pd.DataFrame({"problem_id": ["a", "b", "c"], "verdicts": [[0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 1]]})
    >>> continued = pd.DataFrame({"problem_id": ["a", "a", "b"], "continuation_verdicts": [[1, 1], [0, 1], [0, 0]]})
    >>> effectiveness(continued, rollouts)["intervention/effectiveness"]  # (3 / 6) / (1 / 8)
    4.0
    """
    problems = set(continued["problem_id"])
    before = rollouts[rollouts["problem_id"].isin(problems)]
    rollout_verdicts = [bool(v) for row in before["verdicts"] for v in row]
    after_verdicts = [bool(v) for row in continued["continuation_verdicts"] for v in row]
    rollout_reward = sum(rollout_verdicts) / max(1, len(rollout_verdicts))
    continuation_reward = sum(after_verdicts) / max(1, len(after_verdicts))
    solved_after = {pid for pid, row in zip(continued["problem_id"], continued["continuation_verdicts"]) if any(row)}
    metrics = {
        "intervention/problems": len(problems),
        "intervention/rollout_reward": rollout_reward,
        "intervention/continuation_reward": continuation_reward,
        "intervention/solved_by_rollouts": int(sum(any(row) for row in before["verdicts"])),
        "intervention/solved_by_continuations": len(solved_after),
    }
    if rollout_reward > 0:  # the paper's 22x; undefined when no original rollout was correct
        metrics["intervention/effectiveness"] = continuation_reward / rollout_reward
    return metrics


STAGE = Stage(name="continuations", version="3", reads=READS,
              inputs=lambda cfg, plan: {"interventions": "parse", "policy": "model", "rollouts": hard_set_stage(cfg)},
              run=run, description=__doc__, legacy_name="guided_sampling")  # cache entries keep the old name
