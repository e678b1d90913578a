"""Stage `failures`: one row per incorrect rollout, the raw material for interventions.

Columns: ``problem_id``, ``attempt_id``, ``problem``, ``answer``, ``reference_solution``,
``source``, ``incorrect_attempt``, ``problem_correct`` (correct rollouts of that problem).
``failures.only_unsolved`` keeps only problems with zero correct rollouts (the paper's hard set).
Rows without a reference solution or with an empty attempt are dropped and counted.
"""

from __future__ import annotations

import pandas as pd

from int_exp.pipeline.stage import Stage, StageContext, StageOutput

COLUMNS = ["problem_id", "attempt_id", "problem", "answer", "reference_solution", "source",
           "incorrect_attempt", "problem_correct"]


def run(ctx: StageContext) -> StageOutput:
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
    table = pd.DataFrame(rows, columns=COLUMNS)
    metrics = {"funnel/incorrect": len(table), **{f"funnel/dropped_{k}": v for k, v in dropped.items()}}
    return StageOutput(tables={"main": table}, metrics=metrics)


STAGE = Stage(name="failures", version="1", reads=["failures"], inputs={"rollouts": "rollouts"}, run=run,
              description=__doc__)
