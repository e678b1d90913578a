"""Stage `sft_eval`: pass@k of the SFT checkpoint alone, before RL.

The paper reports InT's SFT checkpoint both on its own and after RL; this stage is the first.
It is the `eval` stage on the `sft` stage's model, with metrics under ``sft_eval/<dataset>/...``
and files ``sft_eval_per_problem.csv`` and ``sft_eval_pass_at_k.png``. Opt in by naming it:
``python run.py stages=[sft,sft_eval,rl,eval]``; skipped in jobs whose variant trains no SFT.
"""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages import eval as eval_stage


def run(ctx: StageContext) -> StageOutput:
    return eval_stage.evaluate(ctx, prefix="sft_eval/")


STAGE = Stage(name="sft_eval", version="1", reads=eval_stage.reads, inputs={"policy": "sft"},
              tables=eval_stage.STAGE.tables, run=run, description=__doc__, evaluates="sft")
