"""Trainer ``sft`` (``sft.trainer: sft``): TRL's SFTTrainer on labels built here (-100 on the prompt
and context).

Its settings are :class:`SFTSettings`: the keys of the ``sft`` section it reads (the schema adds
them to ``sft``; conf/sft/default.yaml gives the values and what each trades). A field reaches TRL's
``SFTConfig`` under its own name, or the one ``trl_as`` gives; those marked ``own`` are read here.
A new setting is one field (plus its YAML value when it differs from the default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int_exp.sft import labels_of, tokenize_examples
from int_exp.training.base import FunctionTrainer, LogFn, RewardFn
from int_exp.training.common import final, lora_config, own, save, trainer_args, trl_as, with_feedback


@dataclass
class SFTSettings:
    """The ``sft`` keys this trainer reads (the paper's SFT: lr 1e-6, 4 epochs, cosine decay to 10%)."""

    peft: str = own("none")  # none | lora
    lora_r: int = own(16)  # LoRA rank, alpha and dropout (with peft: lora)
    lora_alpha: int = own(32)
    lora_dropout: float = own(0.0)
    learning_rate: float = 1e-6
    epochs: float = trl_as("num_train_epochs", 4.0)
    per_device_batch_size: int = trl_as("per_device_train_batch_size", 8)  # examples per device and step
    gradient_accumulation_steps: int = 1
    lr_scheduler: str = trl_as("lr_scheduler_type", "cosine_with_min_lr")
    min_lr_rate: float = own(0.1)  # the cosine_with_min_lr scheduler's floor, a fraction of the peak
    warmup_ratio: float = trl_as("warmup_steps", 0.0)  # transformers 5: a float < 1 is a ratio of the steps
    max_length: int = 16384  # tokens per example; longer ones lose their end
    bf16: bool = own(False)  # where CUDA can (fp32 on CPUs)
    seed: int = 0
    # Any other SFTConfig argument; wins over the settings above.
    trainer_kwargs: dict[str, Any] = own(default_factory=dict)  # noqa: RUF009 - own() is a field


def _check_labels(dataset: Any, expected: list[list[int]]) -> None:
    """Fail if TRL's dataset preparation changed our labels (appended EOS, rebuilt masks, truncated)."""
    seen = sorted(hash(tuple(row["labels"])) for row in dataset)
    want = sorted(hash(tuple(labels)) for labels in expected)
    if seen != want:
        raise RuntimeError(
            "TRL's SFT dataset preparation changed the labels built by int_exp (e.g. appended an EOS "
            "token or re-masked the prompt); the no-EOS / completion-only guarantee no longer holds for "
            "this TRL version"
        )


def _check_sft_config(cfg: Any) -> None:
    if not 0.0 <= float(cfg.warmup_ratio) < 1.0:
        raise ValueError(f"sft.warmup_ratio={cfg.warmup_ratio}: expected a fraction in [0, 1)")
    if cfg.peft not in ("none", "lora"):
        raise ValueError(f"sft.peft={cfg.peft!r}: expected 'none' or 'lora'")


def _tokenize(examples: list[dict], tokenizer: Any, max_length: int) -> tuple[list[dict], int]:
    """The tokenized examples that fit ``max_length`` and how many were dropped; none fitting is an error."""
    tokenized, dropped = tokenize_examples(list(examples), tokenizer, max_length)
    if not tokenized:
        raise ValueError(
            f"no SFT example fits sft.max_length={max_length} "
            f"({dropped} dropped: the prompt alone is too long)"
        )
    return tokenized, dropped


def _sft_arguments(cfg: Any, out_dir: Path) -> dict:
    """Keyword arguments of TRL's ``SFTConfig``: the settings, the scheduler's floor, completion-only loss."""
    scheduler_kwargs = (
        {"min_lr_rate": float(cfg.min_lr_rate)} if cfg.lr_scheduler == "cosine_with_min_lr" else {}
    )
    return trainer_args(
        cfg,
        SFTSettings,
        out_dir,
        lr_scheduler_kwargs=scheduler_kwargs,
        completion_only_loss=True,  # our labels already mask the prompt; this keeps TRL from re-deciding
    )


def _sft_metrics(output: Any, tokenized: list[dict], dropped: int, trainer: Any) -> dict:
    return {
        **final(output),
        "num_examples": len(tokenized),
        "dropped_examples": dropped,
        "num_tokens": sum(len(t["input_ids"]) for t in tokenized),
        "num_target_tokens": sum(sum(t["completion_mask"]) for t in tokenized),
        "log_history": list(trainer.state.log_history),
    }


def run_sft(
    examples: list[dict], model_path: str, cfg: Any, out_dir: Path, *, log_fn: LogFn | None = None
) -> dict:
    """Supervised fine-tuning on ``examples`` (from :mod:`int_exp.sft`); the model is saved into ``out_dir``.

    Args:
        examples: ``{problem, context, target, eos}`` dicts; only target tokens (and the
            end-of-turn token when ``eos``) are trained on.
        model_path: the base model (local folder or hub id).
        cfg: an :class:`SFTSettings` (or the ``sft`` section: a DictConfig with its fields).
        out_dir: where the trained model and tokenizer are saved (a plain model: LoRA is merged).
        log_fn: called with ``(metrics, step)`` for every trainer log (loss, learning rate, ...).

    Returns:
        ``train_loss``, ``steps``, ``runtime``, ``num_examples``, ``dropped_examples``,
        ``num_tokens`` and ``num_target_tokens`` (per epoch), and ``log_history``.
    """
    from datasets import Dataset
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    from int_exp.models import load_tokenizer

    _check_sft_config(cfg)
    tokenizer = load_tokenizer(model_path)
    tokenized, dropped = _tokenize(examples, tokenizer, cfg.max_length)
    rows = [{"input_ids": t["input_ids"], "labels": labels_of(t)} for t in tokenized]
    dataset = Dataset.from_list(rows)
    args = TRLSFTConfig(**_sft_arguments(cfg, out_dir))
    peft_config = lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) if cfg.peft == "lora" else None
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    if not args.packing:
        _check_labels(trainer.train_dataset, [r["labels"] for r in rows])
    output = with_feedback(trainer, "sft", log_fn).train()
    save(trainer, model_path, Path(out_dir), tokenizer, lora=cfg.peft == "lora")
    return _sft_metrics(output, tokenized, dropped, trainer)


def _train(examples: list[dict], model_path: str, cfg: Any, out_dir: Path, *, reward_fn: RewardFn | None = None,
           log_fn: LogFn | None = None) -> dict:
    return run_sft(examples, model_path, cfg, out_dir, log_fn=log_fn)  # no reward: the targets are given


TRAINER = FunctionTrainer(name="sft", section="sft", settings=SFTSettings, fn=_train)
