"""The stage registry: one module per stage, each exposing ``STAGE``, in pipeline order.

Importing this package is cheap: stage modules import torch, transformers and vllm inside
their ``run`` functions. The runner knows no stage by name: each ``STAGE`` declares its inputs,
tables, whether it outputs a policy and whether it is a training stage (:mod:`int_exp.pipeline.stage`).

    problems ─► rollouts ─► failures ─► propose ─► parse ─► continuations ─► correctness_filter
    model ──────────┘            └─► reflect                                         │
      └──────────────────────────────────────────────────► sft ◄──────────────────────┘
                                                            └─► rl ─► eval
                                                            └─► sft_eval (opt-in: SFT alone)
"""

from __future__ import annotations

from int_exp.stages import (
    continuations,
    correctness_filter,
    failures,
    model,
    parse,
    problems,
    propose,
    reflect,
    rl,
    rollouts,
    sft,
    sft_eval,
)
from int_exp.stages import eval as eval_stage

MODULES = (model, problems, rollouts, failures, propose, parse, continuations, correctness_filter,
           reflect, sft, sft_eval, rl, eval_stage)
STAGES = {module.STAGE.name: module.STAGE for module in MODULES}
