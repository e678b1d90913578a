"""Stage `failures`: one row per incorrect rollout, the raw material for interventions.

Columns: ``problem_id``, ``attempt_id``, ``problem``, ``answer``, ``reference_solution``,
``source``, ``incorrect_attempt``, ``problem_correct`` (correct rollouts of that problem).
``failures.only_unsolved`` keeps only problems with zero correct rollouts (the paper's hard set).
Rows without a reference solution or with an empty attempt are dropped and counted.

With ``failures.source`` (the paper's ``hf:CMU-AIRe/InT-hard-set-with-incorrect-attempts``) the
rows come from that set instead and no rollout is sampled: one row per incorrect attempt, rows of
the same problem text sharing its ``problem_id`` (:mod:`int_exp.data.published`).
"""

from __future__ import annotations

import pandas as pd

from int_exp.data import published
from int_exp.pipeline.stage import Stage, StageContext, StageOutput

COLUMNS = ["problem_id", "attempt_id", "problem", "answer", "reference_solution", "source",
           "incorrect_attempt", "problem_correct"]


def reads(cfg) -> list[str]:
    return published.reads("failures") if published.source(cfg, "failures") else ["failures.only_unsolved"]


def inputs(cfg, plan) -> dict[str, str]:
    return {} if published.source(cfg, "failures") else {"rollouts": "rollouts"}


def from_rollouts(ctx: StageContext) -> tuple[list[dict], dict[str, int]]:
    rollouts = ctx.inputs["rollouts"].table()
    rows, dropped = [], {"no_reference": 0, "empty_attempt": 0, "solved_problem": 0}
    for problem in rollouts.to_dict("records"):
        for index, (text, correct) in enumerate(zip(problem["completions"], problem["verdicts"])):
            if correct:
                continue
            if ctx.cfg.failures.only_unsolved and problem["num_correct"] > 0:
                dropped["solved_problem"] += 1
            elif not str(problem.get("reference_solution") or "").strip():
                dropped["no_reference"] += 1
            elif not text.strip():
                dropped["empty_attempt"] += 1
            else:
                rows.append({**{k: problem[k] for k in COLUMNS if k in problem},
                             "attempt_id": f"{problem['problem_id']}#{index}",
                             "incorrect_attempt": text,
                             "problem_correct": int(problem["num_correct"])})
    return rows, dropped


def from_published(ctx: StageContext) -> tuple[list[dict], dict[str, int]]:
    """The published attempts; a problem's id is that of its first row, so per-problem counts
    (intervention effectiveness, RL's hard set) see problems, not attempts."""
    table = published.read_published("failures", ctx.cfg.failures)
    table["problem_id"] = table.groupby("problem", sort=False)["problem_id"].transform("first")
    table["attempt_id"] = table["problem_id"] + "#" + table.groupby("problem_id").cumcount().astype(str)
    no_reference = ~table["reference_solution"].map(published.filled)
    empty = ~table["incorrect_attempt"].map(published.filled) & ~no_reference
    kept = table[~no_reference & ~empty].assign(problem_correct=0)
    return kept.to_dict("records"), {"no_reference": int(no_reference.sum()), "empty_attempt": int(empty.sum())}


def run(ctx: StageContext) -> StageOutput:
    entered = bool(published.source(ctx.cfg, "failures"))
    rows, dropped = (from_published if entered else from_rollouts)(ctx)
    table = pd.DataFrame(rows, columns=COLUMNS)
    metrics = {"funnel/incorrect": len(table), **{f"funnel/dropped_{k}": v for k, v in dropped.items()}}
    summary = {"lineage": {"failures.source": published.lineage(ctx.cfg.failures)}} if entered else {}
    return StageOutput(tables={"main": table}, metrics=metrics, summary=summary)


STAGE = Stage(name="failures", version="1", reads=reads, inputs=inputs, run=run, description=__doc__)
