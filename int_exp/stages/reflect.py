"""Stage `reflect` (baseline): the model rewrites each failed attempt into a corrected solution.

Given the problem, the reference solution and its own failed attempt, the policy writes a whole
new solution (the paper's self-reflection baseline). With ``reflect.require_correct`` only
rewrites whose final answer is right are kept. SFT on these (``sft.data=reflection``) is the
``sft_reflect`` variant.
"""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages.common import GENERATION_READS, generate, grade_samples, sampling_params, skip_unsampled

READS = GENERATION_READS + ["reflect"]


def run(ctx: StageContext) -> StageOutput:
    from int_exp.interventions import reflect_chat

    table = ctx.inputs["failures"].table()
    chats = [reflect_chat(r["problem"], r["reference_solution"], r["incorrect_attempt"], ctx.cfg.reflect.prompt)
             for r in table.to_dict("records")]
    params = sampling_params(ctx.cfg.sampling, 1, max_tokens=ctx.cfg.reflect.max_tokens)
    samples = generate(ctx, ctx.inputs["policy"].model_path, chats, params, desc="reflect")
    table, samples, skipped = skip_unsampled(ctx, "reflect", table, samples)
    rewrites = [group[0] for group in samples]
    correct = [v[0] for v in grade_samples([[r] for r in rewrites], list(table["answer"]), list(table["source"]))]
    table = table.assign(reflection=rewrites, reflection_correct=correct)
    if ctx.cfg.reflect.require_correct:
        table = table[table["reflection_correct"]]
    metrics = {"funnel/reflections": len(rewrites), "funnel/reflections_correct": sum(correct),
               "funnel/kept": len(table), **skipped}
    return StageOutput(tables={"main": table}, metrics=metrics)


STAGE = Stage(name="reflect", version="3", reads=READS, inputs={"failures": "failures", "policy": "model"}, run=run,
              description=__doc__)
