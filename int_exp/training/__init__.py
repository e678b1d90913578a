"""Trainers, chosen by config: ``sft.trainer`` (default ``sft``: TRL SFTTrainer, completion-only
loss) and ``rl.trainer`` (default ``grpo``: TRL GRPOTrainer), plus the paper's on-policy diagnostic
(NLL and entropy of the SFT targets under the base model).

A trainer is a :class:`~int_exp.training.base.Trainer`: a name, the section it trains from, its
settings (a dataclass: the keys of that section it reads, with their types, defaults and docs) and
``train(data, model_path, cfg, out_dir, *, reward_fn, log_fn)``. The root schema adds every
trainer's settings to its section, and a stage's cache key takes the chosen trainer's keys, so a new
setting is one field of the trainer's dataclass. Trainers are found, once, in three places, as
domains are: the modules ``int_exp/training/*_trainer.py`` (each defines ``TRAINER``), the
``int_exp.trainers`` entry-point group, and the modules named in ``$INT_EXP_TRAINERS`` (comma
separated; set before the config is composed, so that its settings are in the schema). A new
trainer is one module with a ``TRAINER`` plus a YAML that selects it (``tests/toy_trainer`` adds one
without touching this package). The stages run a trainer in-process, or under ``accelerate launch``
when ``num_processes > 1`` (:mod:`int_exp.training.launch`, which starts any trainer by name).

The builtin trainers pass their settings to TRL's config by name (or the name ``trl_as`` gives;
those marked ``own`` they read themselves: :mod:`int_exp.training.common`); ``trainer_kwargs`` are
merged last and win. Metrics leave through ``log_fn(metrics, step)`` (the stage sends them to
MLflow), never through ``report_to``. SFT labels are built here, not by TRL (-100 on the prompt and
context; a check fails loudly if TRL changes them). LoRA adapters are merged before saving, so every
output folder is a plain model the generation backends can load. Heavy imports (torch,
transformers, trl, peft, datasets) happen inside the functions.
"""

from __future__ import annotations

import dataclasses
import pkgutil

from int_exp.runtime.plugins import PluginRegistry
from int_exp.training.base import FunctionTrainer, LogFn, RewardFn, Trainer, settings_keys
from int_exp.training.diagnostics import sequence_diagnostics
from int_exp.training.grpo_trainer import run_grpo
from int_exp.training.sft_trainer import _check_labels as _check_labels  # tests reach it here
from int_exp.training.sft_trainer import run_sft

__all__ = [
    "TRAINERS",
    "FunctionTrainer",
    "LogFn",
    "RewardFn",
    "Trainer",
    "all_trainers",
    "get_trainer",
    "register_trainer",
    "run_grpo",
    "run_sft",
    "sequence_diagnostics",
    "settings_keys",
]


def _check_settings(trainer: Trainer) -> None:
    if trainer.settings is not None and not dataclasses.is_dataclass(trainer.settings):
        raise TypeError(f"trainer {trainer.name!r}: its settings {trainer.settings!r} are no dataclass")


def _own_modules() -> list[str]:
    return [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.name.endswith("_trainer")]


TRAINERS: PluginRegistry[Trainer] = PluginRegistry(
    "trainer", Trainer, "TRAINER", env_var="INT_EXP_TRAINERS", entry_point_group="int_exp.trainers",
    own_modules=_own_modules, check=_check_settings)
register_trainer = TRAINERS.register
trainer_modules = TRAINERS.modules  # our ``*_trainer`` modules, then entry points, then $INT_EXP_TRAINERS
all_trainers = TRAINERS.all
get_trainer = TRAINERS.get
