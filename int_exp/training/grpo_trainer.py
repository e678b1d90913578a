"""Trainer ``grpo`` (``rl.trainer: grpo``): TRL's GRPOTrainer with the reward its caller passes (the
training stage passes the grader of each problem's domain: :mod:`int_exp.domains.reward`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from int_exp.runtime.hardware import cuda_available
from int_exp.training.base import FunctionTrainer, LogFn, RewardFn
from int_exp.training.common import final, lora_config, save, trainer_args, with_feedback

log = logging.getLogger(__name__)


def _check_grpo_config(cfg: Any, prompts: list[dict]) -> None:
    if cfg.per_device_batch_size % cfg.num_generations:
        raise ValueError(
            f"rl.per_device_batch_size={cfg.per_device_batch_size} counts completions and must be a "
            f"multiple of rl.num_generations={cfg.num_generations} (the group size), so that every "
            "group is complete"
        )
    if cfg.peft not in ("none", "lora"):
        raise ValueError(f"rl.peft={cfg.peft!r}: expected 'none' or 'lora'")
    if not prompts:
        raise ValueError("run_grpo got no prompts")


def _grpo_arguments(cfg: Any) -> dict[str, Any]:
    """The GRPO-specific keyword arguments of TRL's ``GRPOConfig`` (vLLM only where CUDA is)."""
    use_vllm = bool(cfg.use_vllm)
    if use_vllm and not cuda_available():
        log.warning("rl.use_vllm=true but no CUDA device: generating with transformers instead")
        use_vllm = False
    grpo_args: dict[str, Any] = {
        "max_steps": int(cfg.max_steps),
        "beta": float(cfg.beta),
        "loss_type": str(cfg.loss_type),
        "temperature": float(cfg.temperature),
        "max_completion_length": int(cfg.max_completion_length),
        "num_generations": int(cfg.num_generations),
        "use_vllm": use_vllm,
    }
    if use_vllm:
        grpo_args["vllm_mode"] = cfg.vllm_mode
    return grpo_args


def end_at_every_eos(trainer: Any, tokenizer: Any) -> list[int]:
    """Make every end-of-sequence id the policy declares end ``trainer``'s completions; returns them.

    Qwen3's generation config lists two (151645 ``<|im_end|>`` and 151643 ``<|endoftext|>``).
    A trainer that knows only ``tokenizer.eos_token_id`` lets a completion run past the other
    one to ``max_completion_length`` and trains on what follows (TRL's fix, PR #7039, was closed
    unmerged; TRL 1.16 reads the generation config itself). Set here, the generation, the
    completion masks, the clipped-ratio metric and ``rl.fast_generation`` all see the same ids,
    whatever TRL is installed.
    """
    from int_exp.backends.hf import eos_token_ids

    model = trainer.accelerator.unwrap_model(trainer.model)
    ends = list(getattr(trainer, "eos_token_ids", None) or [])
    ends += [i for i in eos_token_ids(tokenizer, getattr(model, "generation_config", None)) if i not in ends]
    trainer.eos_token_ids = ends
    if getattr(trainer, "generation_config", None) is not None:  # TRL's model.generate path
        trainer.generation_config.eos_token_id = ends
    if isinstance(getattr(trainer, "generation_kwargs", None), dict):
        trainer.generation_kwargs["eos_token_id"] = ends
    return ends


def run_grpo(
    prompts: list[dict],
    model_path: str,
    cfg: Any,
    out_dir: Path,
    *,
    reward_fn: RewardFn | None,
    log_fn: LogFn | None = None,
) -> dict:
    """GRPO from ``model_path`` on conversational prompts; the model is saved into ``out_dir``.

    Args:
        prompts: ``{"prompt": [chat messages], "answer": ..., ...}``; every extra column reaches
            ``reward_fn`` as a keyword argument.
        model_path: the policy to start from.
        cfg: an ``RLConfig`` (or a DictConfig with its fields).
        out_dir: where the trained model and tokenizer are saved (a plain model: LoRA is merged).
        reward_fn: ``(completions, **columns) -> list[float]``, e.g.
            :func:`int_exp.domains.reward.correctness_reward`; required.
        log_fn: called with ``(metrics, step)``: reward, reward_std, frac_reward_zero_std,
            completions/mean_length, loss, ...

    Returns:
        ``train_loss``, ``steps``, ``runtime``, ``num_prompts``, ``loss_type`` and ``log_history``.
    """
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from int_exp.models import load_tokenizer

    if reward_fn is None:
        raise ValueError("run_grpo needs a reward_fn")
    _check_grpo_config(cfg, prompts)
    args = GRPOConfig(**trainer_args(cfg, out_dir, **_grpo_arguments(cfg)))
    tokenizer = load_tokenizer(model_path)  # left padding, pad token set: what generation needs
    peft_config = lora_config(cfg.lora_r, cfg.lora_alpha, 0.0) if cfg.peft == "lora" else None
    trainer_type = GRPOTrainer
    if cfg.fast_generation:
        from int_exp.training.grpo_generation import trainer_class

        trainer_type = trainer_class()
    trainer = trainer_type(
        model=str(model_path),
        reward_funcs=reward_fn,
        args=args,
        train_dataset=Dataset.from_list([dict(p) for p in prompts]),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    end_at_every_eos(trainer, tokenizer)
    output = with_feedback(trainer, "rl: GRPO", log_fn).train()
    save(trainer, model_path, Path(out_dir), tokenizer, lora=cfg.peft == "lora")
    return {
        **final(output),
        "num_prompts": len(prompts),
        "loss_type": args.loss_type,  # what TRL ran (trainer_kwargs may override rl.loss_type)
        "log_history": list(trainer.state.log_history),
    }


# The keys of the `rl` section this trainer reads (the stage adds them to its cache key). A new
# GRPO setting: a typed field of RLConfig, its value in conf/rl/default.yaml, its name here and
# its TRL argument in _grpo_arguments.
READS = ("num_generations", "learning_rate", "max_steps", "beta", "loss_type", "temperature",
         "max_completion_length", "per_device_batch_size", "gradient_accumulation_steps", "peft", "lora_r",
         "lora_alpha", "bf16", "use_vllm", "vllm_mode", "seed", "trainer_kwargs", "fast_generation")

TRAINER = FunctionTrainer(name="grpo", reads=READS, fn=run_grpo)
