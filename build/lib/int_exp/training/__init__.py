"""Trainers: SFT (TRL SFTTrainer, completion-only loss) and GRPO (TRL GRPOTrainer), plus the
paper's on-policy diagnostic (NLL and entropy of the SFT targets under the base model).

The functions run in-process; the runner wraps them in ``accelerate launch`` for several GPUs
(``sft.num_processes``, ``sft.accelerate_config``; :mod:`int_exp.training.launch`). Every typed
knob of ``SFTConfig`` / ``RLConfig`` maps onto a TRL argument; ``trainer_kwargs`` are merged last
and win. Metrics leave through ``log_fn(metrics, step)`` (the runner sends them to MLflow), never
through ``report_to``.

Labels for SFT are built here, not by TRL: the dataset holds ``input_ids`` and ``labels`` (-100 on
the prompt and context), which TRL 1.16 uses as they are (it appends EOS only to *untokenised*
completions and reads ``completion_mask`` only when ``completion_only_loss=True``). A check after
the trainer is built fails loudly if TRL ever changes them. LoRA adapters are merged into the base
weights before saving, so every output folder is a plain model the generation backends can load.

Modules: :mod:`~int_exp.training.common` (TRL arguments, log forwarding, LoRA, saving),
:mod:`~int_exp.training.sft_trainer`, :mod:`~int_exp.training.grpo_trainer` (with the reward),
:mod:`~int_exp.training.diagnostics`. Heavy imports (torch, transformers, trl, peft, datasets)
happen inside the functions.
"""

from __future__ import annotations

from int_exp.training.common import LogFn
from int_exp.training.diagnostics import sequence_diagnostics
from int_exp.training.grpo_trainer import correctness_reward, run_grpo
from int_exp.training.sft_trainer import _check_labels as _check_labels  # tests reach it here
from int_exp.training.sft_trainer import run_sft

__all__ = ["LogFn", "correctness_reward", "run_grpo", "run_sft", "sequence_diagnostics"]
