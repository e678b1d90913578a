"""Stage `sft`: supervised fine-tuning of the base model by the trainer ``sft.trainer`` names (default
``sft``: TRL SFTTrainer, completion-only loss).

``sft.data`` picks the examples: ``interventions`` (InT: prefix + intervention conditioned on the
problem; ``sft.clone_prefix`` / ``sft.clone_suffix`` are the paper's ablations), ``reference``
(the reference solutions of the same hard problems), ``reflection`` (self-reflection rewrites) or
``published``: the rows of ``sft.source`` (the paper's ``hf:CMU-AIRe/InT-SFT``), whose
``intervention_guided_attempt`` (prefix + intervention) is the target, without end of sequence.
Before training it records the examples' next-token NLL and entropy under the base model, the
paper's on-policy diagnostic (InT 0.29 vs base 0.26 vs reference-SFT 1.66 entropy).
"""

from __future__ import annotations

import pandas as pd

from int_exp.data import published
from int_exp.pipeline.stage import EmptyStageError, Stage, StageContext, StageOutput
from int_exp.stages.common import empty_funnel_message, train, trainer_reads, user_prompt

SOURCES = {"interventions": "correctness_filter", "reference": "failures", "reflection": "reflect"}
# What the stage reads; its trainer's keys (`sft.trainer`, int_exp/training) are added by reads().
READS = ["sft.data", "sft.clone_prefix", "sft.clone_suffix", "sft.num_processes", "sft.accelerate_config",
         "data.prompt_template", "model.dtype"]
DIAGNOSTIC_EXAMPLES = 256
PUBLISHED = "published"  # sft.data that reads sft.source instead of an upstream stage


def reads(cfg) -> list[str]:
    return READS + trainer_reads(cfg, "sft") + (published.reads("sft") if cfg.sft.data == PUBLISHED else [])


def inputs(cfg, plan) -> dict[str, str]:
    if cfg.sft.data == PUBLISHED:
        if not published.source(cfg, "sft"):
            raise ValueError("sft.data=published needs sft.source (e.g. hf:CMU-AIRe/InT-SFT or a local .parquet)")
        return {"base": "model"}
    if cfg.sft.data not in SOURCES:
        raise ValueError(f"sft.data={cfg.sft.data!r}: expected one of {sorted([*SOURCES, PUBLISHED])}")
    return {"base": "model", "source": SOURCES[cfg.sft.data]}


def source_rows(ctx: StageContext) -> list[dict]:
    """The upstream stage's rows, or those of the published set with a non-empty target."""
    if ctx.cfg.sft.data != PUBLISHED:
        return ctx.inputs["source"].rows()
    table = published.read_published("sft", ctx.cfg.sft)
    usable = table["intervention_guided_attempt"].map(published.filled)
    if not usable.all():
        ctx.log.warning("sft.source: %d of %d rows have an empty intervention_guided_attempt: dropped",
                        int((~usable).sum()), len(table))
    return table[usable].to_dict("records")


def examples_from(ctx: StageContext) -> list[dict]:
    from int_exp.sft import build_examples

    cfg = ctx.cfg.sft
    rows = source_rows(ctx)
    if cfg.data == "reference":  # one example per hard problem, not per failed attempt
        rows = list({row["problem_id"]: row for row in rows}.values())
    examples = build_examples(rows, cfg.data, cfg.clone_prefix, cfg.clone_suffix)
    for example in examples:
        example["problem"] = user_prompt(example["problem"], ctx.cfg.data.prompt_template)
    return examples


def run(ctx: StageContext) -> StageOutput:
    from int_exp.models import load_tokenizer
    from int_exp.training import sequence_diagnostics

    if ctx.cfg.sft.epochs <= 0 or ctx.cfg.sft.learning_rate <= 0:
        raise ValueError(f"sft.epochs={ctx.cfg.sft.epochs} and sft.learning_rate={ctx.cfg.sft.learning_rate} "
                         "must both be > 0")
    examples = examples_from(ctx)
    if not examples:
        raise EmptyStageError(
            f"sft (sft.data={ctx.cfg.sft.data}) has no training examples: {empty_funnel_message(ctx.upstream)}"
        )
    base = ctx.inputs["base"].model_path
    diagnostics = sequence_diagnostics(examples, base, load_tokenizer(base), max_examples=DIAGNOSTIC_EXAMPLES)
    ctx.log.info("SFT data under the base model: %s", diagnostics)

    final, _ = train(ctx, examples, base, "sft")
    metrics = {f"sft/{k}": v for k, v in {**final, **diagnostics}.items() if isinstance(v, (int, float))}
    metrics["sft/examples"] = len(examples)
    summary = {"lineage": {"sft.source": published.lineage(ctx.cfg.sft)}} if ctx.cfg.sft.data == PUBLISHED else {}
    return StageOutput(tables={"main": pd.DataFrame(examples)}, metrics=metrics, model="model", summary=summary)


STAGE = Stage(name="sft", version="1", reads=reads, inputs=inputs, run=run, description=__doc__, policy=True, trains="sft")
