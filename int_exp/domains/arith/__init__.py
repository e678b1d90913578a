"""The arith domain: synthetic multi-step arithmetic, where a CPU run gets real interventions.

* problems: :mod:`.generator` (seeded, disjoint splits, settings ``data.arith``:
  :class:`.settings.ArithConfig`), the problem model :mod:`.problem`;
* grading: answers are integers in ``\\boxed{}``, graded by the math domain's grader (the same
  verdicts an exact comparison gives on this format, and the same code path as every other run);
* oracle proposer: :mod:`.oracle`, an exact step checker that writes the ``<intervention>``
  block a self-verifying model would (``intervention.proposer=auto`` picks it for arith data);
* builtin model ``builtin:sandbox``: a small transformer trained from scratch on the domain
  (:mod:`.sandbox_model`, settings ``model.sandbox``: :class:`.settings.SandboxModelConfig`), and
  its evaluation by difficulty (:mod:`.sandbox_eval`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig
from int_exp.domains.base import BuiltinModel, SimpleDomain
from int_exp.domains.math import DOMAIN as MATH

# The data.arith fields the sandbox model's pretraining depends on (its cache key): operand ranges,
# operations and seed, not the run's split sizes, difficulty or reference style.
SANDBOX_DOMAIN_KEYS = ("max_operand", "max_multiplier", "max_value", "allow_negative", "operations", "seed")


def _read(source: str, split: str, spec: Any, data_cfg: Any):
    from int_exp.config import setting
    from int_exp.domains.arith.generator import arith_table

    arith_cfg = setting(spec, "arith") or setting(data_cfg, "arith")
    if arith_cfg is None:
        raise ValueError("arith source needs data.arith (or the dataset's own arith settings)")
    return arith_table(arith_cfg, split)


def _oracle(row: dict, attempt: str) -> str:
    from int_exp.domains.arith.oracle import oracle_intervention

    return oracle_intervention(row, attempt)


def _sandbox_reads(cfg: Any) -> list[str]:
    # The pretraining distribution only: a change of split sizes or difficulty of the run's
    # problems must not retrain the model, nor a verification knob while that phase is off.
    sandbox = cfg.model.sandbox
    return ([f"model.sandbox.{key}" for key in sandbox if int(sandbox.verify_steps) > 0 or not _verify_phase_key(key)]
            + [f"data.arith.{key}" for key in SANDBOX_DOMAIN_KEYS])


def _verify_phase_key(key: str) -> bool:
    """A model.sandbox field that changes the weights only with the verification phase on
    (``verify_steps > 0``): its knobs (``verify_*``) and the proposer prompt (``prompt_*``)."""
    return (key.startswith("verify_") and key != "verify_steps") or key.startswith("prompt_")


def _build_sandbox(cfg: Any, out_dir: Path) -> None:
    from int_exp.domains.arith.sandbox_model import train_sandbox_model

    train_sandbox_model(cfg.model.sandbox, cfg.data.arith, out_dir)


SANDBOX = BuiltinModel("sandbox", reads=_sandbox_reads, build=_build_sandbox,
                       description="a small transformer trained from scratch on arith",
                       seed_key="model.sandbox.seed")

DOMAIN = SimpleDomain(
    name="arith",
    sources=("arith",),
    read_fn=_read,
    grade_fn=MATH.grade_fn,  # integers in \\boxed{}: the math grader reads them
    equivalent_fn=MATH.equivalent_fn,
    settings={"data.arith": ArithConfig, "model.sandbox": SandboxModelConfig},
    builtin_models={"sandbox": SANDBOX},
    oracle_fn=_oracle,
    source_settings=("arith",),
)
