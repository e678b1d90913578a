"""Trainer ``sft`` (``sft.trainer: sft``): TRL's SFTTrainer on labels built here (-100 on the prompt
and context)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from int_exp.sft import labels_of, tokenize_examples
from int_exp.training.base import FunctionTrainer, LogFn, RewardFn
from int_exp.training.common import final, lora_config, save, trainer_args, with_feedback


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
    """Keyword arguments of TRL's ``SFTConfig``."""
    scheduler_kwargs = (
        {"min_lr_rate": float(cfg.min_lr_rate)} if cfg.lr_scheduler == "cosine_with_min_lr" else {}
    )
    return trainer_args(
        cfg,
        out_dir,
        num_train_epochs=float(cfg.epochs),
        lr_scheduler_type=cfg.lr_scheduler,
        lr_scheduler_kwargs=scheduler_kwargs,
        warmup_steps=float(cfg.warmup_ratio),  # transformers 5: a float < 1 is a ratio of the steps
        max_length=int(cfg.max_length),
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
        cfg: an ``SFTConfig`` (or a DictConfig with its fields).
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


# The keys of the `sft` section this trainer reads (the stage adds them to its cache key).
READS = ("peft", "lora_r", "lora_alpha", "lora_dropout", "learning_rate", "epochs", "per_device_batch_size",
         "gradient_accumulation_steps", "lr_scheduler", "min_lr_rate", "warmup_ratio", "max_length", "bf16",
         "seed", "trainer_kwargs")


def _train(examples: list[dict], model_path: str, cfg: Any, out_dir: Path, *, reward_fn: RewardFn | None = None,
           log_fn: LogFn | None = None) -> dict:
    return run_sft(examples, model_path, cfg, out_dir, log_fn=log_fn)  # no reward: the targets are given


TRAINER = FunctionTrainer(name="sft", reads=READS, fn=_train)
