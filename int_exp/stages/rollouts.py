"""Stage `rollouts`: ``rollouts.k`` samples per training problem from the base policy, graded.

The problem is the only user message (through ``data.prompt_template``). The paper samples K=4
here, on problems the base model already failed in 64+ samples.
"""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages.common import GENERATION_READS, problem_chat, sample_and_grade, sampling_params

READS = GENERATION_READS + ["rollouts", "data.prompt_template"]


def run(ctx: StageContext) -> StageOutput:
    table = ctx.inputs["problems"].table()
    chats = [problem_chat(p, ctx.cfg.data.prompt_template) for p in table["problem"]]
    params = sampling_params(ctx.cfg.sampling, ctx.cfg.rollouts.k)
    table, samples, verdicts, skipped = sample_and_grade(ctx, "rollouts", table, chats, params, desc="rollouts")
    table = table.assign(
        completions=samples,
        verdicts=verdicts,
        num_correct=[sum(v) for v in verdicts],
    )
    total = sum(len(s) for s in samples)
    correct = int(table["num_correct"].sum())
    metrics = {
        "funnel/rollouts": total,
        "funnel/rollouts_correct": correct,
        "funnel/problems_unsolved": int((table["num_correct"] == 0).sum()),
        **skipped,
    }
    return StageOutput(tables={"main": table}, metrics=metrics)


STAGE = Stage(name="rollouts", version="3", reads=READS, inputs={"problems": "problems", "policy": "model"}, run=run,
              description=__doc__)
