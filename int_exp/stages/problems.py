"""Stage `problems`: the training problems (normalised, subset, sliced and sharded)."""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput

READS = ["data.train", "data.limit", "data.seed", "data.slice", "data.shard", "data.arith"]


def run(ctx: StageContext) -> StageOutput:
    from int_exp.data import load_dataset_spec

    table = load_dataset_spec(ctx.cfg.data.train, ctx.cfg.data, train=True)
    return StageOutput(tables={"main": table}, metrics={"funnel/problems": len(table)})


STAGE = Stage(name="problems", version="1", reads=READS, inputs={}, run=run, description=__doc__)
