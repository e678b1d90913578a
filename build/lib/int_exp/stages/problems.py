"""Stage `problems`: the training problems (normalised, subset, sliced and sharded)."""

from __future__ import annotations

from int_exp.pipeline.stage import Stage, StageContext, StageOutput

READS = ["data.train", "data.limit", "data.seed", "data.slice", "data.shard"]


def reads(cfg) -> list[str]:
    """Our keys and those of the training set's domain (``data.arith`` for arith, none for math)."""
    from int_exp.domains import domain_of

    source = str(cfg.data.train.source)
    return READS + domain_of(source).settings_keys(source)


def run(ctx: StageContext) -> StageOutput:
    from int_exp.data import load_dataset_spec

    table = load_dataset_spec(ctx.cfg.data.train, ctx.cfg.data, train=True)
    repeated = table[table["problem"].duplicated(keep=False)]
    if len(repeated):  # kept (ids differ), but every statistic over problems counts them twice
        ctx.log.warning("%d training problems share their text with another (e.g. ids %s): they are kept, "
                        "and count twice in per-problem statistics", len(repeated), list(repeated["problem_id"][:4]))
    return StageOutput(tables={"main": table}, metrics={"funnel/problems": len(table),
                                                        "funnel/problems_repeated_text": len(repeated)})


STAGE = Stage(name="problems", version="1", reads=reads, inputs={}, run=run, description=__doc__)
