"""The stage registry: one module per stage, each exposing ``STAGE``.

Importing this package is cheap: stage modules import torch, transformers and vllm inside
their ``run`` functions.

    problems ─► rollouts ─► failures ─► propose ─► parse ─► guided_sampling ─► guided_rollouts
    model ──────────┘            └─► reflect                                         │
      └──────────────────────────────────────────────────► sft ◄──────────────────────┘
                                                            └─► rl ─► eval
"""

from __future__ import annotations

from int_exp.stages import (
    eval as eval_stage,
)
from int_exp.stages import (
    failures,
    guided_rollouts,
    guided_sampling,
    model,
    parse,
    problems,
    propose,
    reflect,
    rl,
    rollouts,
    sft,
)

MODULES = (model, problems, rollouts, failures, propose, parse, guided_sampling, guided_rollouts,
           reflect, sft, rl, eval_stage)
STAGES = {module.STAGE.name: module.STAGE for module in MODULES}
