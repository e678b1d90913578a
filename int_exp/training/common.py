"""What the SFT and GRPO trainers share: TRL arguments, the log forwarder, LoRA, saving a plain model."""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import typing
from pathlib import Path
from typing import Any

from int_exp.config import plain
from int_exp.runtime import threads
from int_exp.runtime.hardware import cuda_available
from int_exp.training.base import LogFn

log = logging.getLogger(__name__)


def _precision(cfg: Any) -> dict:
    """bf16 from the config where a GPU can do it; TRL defaults to bf16=True, which fails on CPU."""
    cuda = cuda_available()
    if cfg.bf16 and not cuda:
        log.warning("bf16=true but no CUDA device: training in fp32 on the CPU")
    return {"bf16": bool(cfg.bf16 and cuda), "fp16": False, "use_cpu": not cuda}


# A setting's field metadata: the TRL argument it becomes; None: the trainer module reads it itself.
TRL = "trl"
SCALARS = (int, float, bool, str)


def own(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A setting the trainer module reads itself (LoRA, precision, generation): no TRL argument."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={TRL: None})


def trl_as(argument: str, default: Any) -> Any:
    """A setting that reaches TRL's config as ``argument`` (an unmarked one goes under its own name)."""
    return dataclasses.field(default=default, metadata={TRL: argument})


def trl_settings(cfg: Any, settings: type) -> dict:
    """The TRL arguments of ``cfg``'s values for the fields of ``settings``: each under its own
    name or the one :func:`trl_as` gives, converted to its declared type when that is a scalar;
    fields marked :func:`own` are left out."""
    hints = typing.get_type_hints(settings)
    arguments = {}
    for f in dataclasses.fields(settings):
        argument = f.metadata.get(TRL, f.name)
        if argument is not None:
            value = getattr(cfg, f.name)
            arguments[argument] = hints[f.name](value) if hints[f.name] in SCALARS else plain(value)
    return arguments


def trainer_args(cfg: Any, settings: type, out_dir: str | Path, **specific: Any) -> dict:
    """Keyword arguments of a TRL trainer config: the fixed ones (no checkpoints, no ``report_to``,
    precision), then the settings (:func:`trl_settings`), then ``specific``, then
    ``cfg.trainer_kwargs``, which override everything."""
    return {
        "output_dir": str(out_dir),
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        **_precision(cfg),
        **trl_settings(cfg, settings),
        **specific,
        **(plain(cfg.trainer_kwargs) or {}),
    }


def _numeric(logs: dict) -> dict:
    return {
        k: float(v)
        for k, v in logs.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def log_callback(log_fn: LogFn | None):
    """A TrainerCallback forwarding every logged dict (main process only) to ``log_fn``."""
    from transformers import TrainerCallback

    class ForwardLogs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if log_fn is not None and logs and state.is_world_process_zero:
                metrics = _numeric(logs)
                if metrics:
                    log_fn(metrics, int(state.global_step))

    return ForwardLogs()


# What the progress bar shows of each logged dict (when present), under short names.
BAR_KEYS = {"loss": "loss", "reward": "reward", "frac_reward_zero_std": "zero_adv", "learning_rate": "lr"}


def with_feedback(trainer: Any, desc: str, log_fn: LogFn | None) -> Any:
    """Forward the trainer's logs to ``log_fn`` (MLflow), and replace its own progress output (a
    bar that prints every log as a raw dict of strings) with one bar whose postfix carries the key
    numbers."""
    from tqdm.auto import tqdm
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class ProgressBar(TrainerCallback):
        bar = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, desc=desc, unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            shown = {name: f"{float(logs[key]):.3g}" for key, name in BAR_KEYS.items()
                     if self.bar is not None and key in (logs or {}) and isinstance(logs[key], (int, float))}
            if shown:
                self.bar.set_postfix(shown, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    class ThreadBudget(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            threads.rebalance()  # this job's share of the cores, if other jobs started or ended

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(ProgressBar())
    trainer.add_callback(ThreadBudget())
    trainer.add_callback(log_callback(log_fn))
    return trainer


def lora_config(r: int, alpha: int, dropout: float):
    from peft import LoraConfig

    return LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM"
    )


def _save_merged(model_path: str, adapter_dir: Path, out_dir: Path, tokenizer: Any) -> None:
    """Main process: reload the base on the CPU, merge the adapter in, save the plain model."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(model_path), dtype="auto")
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.config.use_cache = True
    merged.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    shutil.rmtree(adapter_dir, ignore_errors=True)


def save(trainer: Any, model_path: str, out_dir: Path, tokenizer: Any, lora: bool) -> None:
    """Save a plain model + tokenizer into ``out_dir`` (LoRA: adapter saved, then merged into the base).

    ``trainer.save_model`` gathers sharded weights (DeepSpeed ZeRO-3, FSDP) on every process; the
    merge reloads the base on the main process's CPU, so it works whatever the parallelism was.
    """
    out_dir = Path(out_dir)
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(unwrapped, "config"):
        unwrapped.config.use_cache = True  # gradient checkpointing turns the KV cache off for training
    if not lora:
        trainer.save_model(str(out_dir))
        if trainer.accelerator.is_main_process:
            tokenizer.save_pretrained(str(out_dir))
        trainer.accelerator.wait_for_everyone()
        return
    adapter_dir = out_dir.with_name(out_dir.name + ".adapter")
    trainer.save_model(str(adapter_dir))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        _save_merged(model_path, adapter_dir, out_dir, tokenizer)
    trainer.accelerator.wait_for_everyone()


def final(train_output: Any) -> dict:
    metrics = dict(train_output.metrics)
    return {
        "train_loss": float(train_output.training_loss),
        "steps": int(train_output.global_step),
        "runtime": float(metrics.get("train_runtime", float("nan"))),
    }
