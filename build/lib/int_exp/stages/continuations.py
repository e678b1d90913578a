"""Stage `continuations` (formerly `guided_sampling`): continue each intervention-guided attempt and grade the outcomes.

The assistant message (prefix + intervention) is *continued* (continue-final-message mode, not
a new turn) ``intervention.filter_samples`` times (paper: 32). A continuation is appended
verbatim to the guided attempt, and the whole trajectory is graded.
"""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages.common import GENERATION_READS, generate, grade_samples, sampling_params, user_prompt

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
    trajectories = [[guided + c for c in group] for guided, group in zip(table["intervention_guided_attempt"], continuations)]
    verdicts = grade_samples(trajectories, list(table["answer"]), list(table["source"]))
    table = table.assign(continuations=continuations, continuation_verdicts=verdicts,
                         guided_correct=[sum(v) for v in verdicts])
    metrics = {
        "funnel/guided_rollouts": sum(len(g) for g in continuations),
        "funnel/guided_rollouts_correct": int(table["guided_correct"].sum()) if len(table) else 0,
    }
    return StageOutput(tables={"main": table}, metrics=metrics)


STAGE = Stage(name="continuations", version="1", reads=READS, inputs={"interventions": "parse", "policy": "model"},
              run=run, description=__doc__, legacy_name="guided_sampling")  # cache entries keep the old name
