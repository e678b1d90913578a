"""Trainers: SFT (TRL SFTTrainer, completion-only loss) and GRPO (TRL GRPOTrainer), plus the
paper's on-policy diagnostic (NLL and entropy of the SFT targets under the base model).

The functions run in-process; the runner wraps them in ``accelerate launch`` for several GPUs
(``sft.num_processes``, ``sft.accelerate_config``). Every typed knob of ``SFTConfig`` /
``RLConfig`` maps onto a TRL argument; ``trainer_kwargs`` are merged last and win. Metrics leave
through ``log_fn(metrics, step)`` (the runner sends them to MLflow), never through ``report_to``.

Labels for SFT are built here, not by TRL: the dataset holds ``input_ids`` and ``labels`` (-100 on
the prompt and context), which TRL 1.16 uses as they are (it appends EOS only to *untokenised*
completions and reads ``completion_mask`` only when ``completion_only_loss=True``). A check after
the trainer is built fails loudly if TRL ever changes them. LoRA adapters are merged into the base
weights before saving, so every output folder is a plain model the generation backends can load.

Heavy imports (torch, transformers, trl, peft, datasets) happen inside the functions.
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from int_exp.models.batching import length_batches
from int_exp.models.hardware import cuda_available
from int_exp.sft import labels_of, tokenize_example, tokenize_examples

log = logging.getLogger(__name__)

LogFn = Callable[[dict, int], None]


def _plain(value: Any) -> Any:
    """OmegaConf containers to plain Python (trainer arguments must not be DictConfigs)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover
        return value
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _precision(cfg: Any) -> dict:
    """bf16 from the config where a GPU can do it; TRL defaults to bf16=True, which fails on CPU."""
    cuda = cuda_available()
    if cfg.bf16 and not cuda:
        log.warning("bf16=true but no CUDA device: training in fp32 on the CPU")
    return {"bf16": bool(cfg.bf16 and cuda), "fp16": False, "use_cpu": not cuda}


def _trainer_args(cfg: Any, out_dir: str | Path, **specific: Any) -> dict:
    """Keyword arguments of a TRL trainer config: what SFT and GRPO share, then ``specific``, then
    ``cfg.trainer_kwargs``, which override everything."""
    return {
        "output_dir": str(out_dir),
        "learning_rate": float(cfg.learning_rate),
        "per_device_train_batch_size": int(cfg.per_device_batch_size),
        "gradient_accumulation_steps": int(cfg.gradient_accumulation_steps),
        "seed": int(cfg.seed),
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        **_precision(cfg),
        **specific,
        **(_plain(cfg.trainer_kwargs) or {}),
    }


def _numeric(logs: dict) -> dict:
    return {
        k: float(v)
        for k, v in logs.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def _log_callback(log_fn: LogFn | None):
    """A TrainerCallback forwarding every logged dict (main process only) to ``log_fn``."""
    from transformers import TrainerCallback

    class ForwardLogs(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if log_fn is not None and logs and state.is_world_process_zero:
                metrics = _numeric(logs)
                if metrics:
                    log_fn(metrics, int(state.global_step))

    return ForwardLogs()


def _lora_config(r: int, alpha: int, dropout: float):
    from peft import LoraConfig

    return LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules="all-linear", task_type="CAUSAL_LM"
    )


def _save(trainer: Any, model_path: str, out_dir: Path, tokenizer: Any, lora: bool) -> None:
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
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(str(model_path), dtype="auto")
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.config.use_cache = True
        merged.save_pretrained(str(out_dir))
        tokenizer.save_pretrained(str(out_dir))
        shutil.rmtree(adapter_dir, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()


def _final(train_output: Any) -> dict:
    metrics = dict(train_output.metrics)
    return {
        "train_loss": float(train_output.training_loss),
        "steps": int(train_output.global_step),
        "runtime": float(metrics.get("train_runtime", float("nan"))),
    }


# --------------------------------------------------------------------------------------------- SFT


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

    if not 0.0 <= float(cfg.warmup_ratio) < 1.0:
        raise ValueError(f"sft.warmup_ratio={cfg.warmup_ratio}: expected a fraction in [0, 1)")
    if cfg.peft not in ("none", "lora"):
        raise ValueError(f"sft.peft={cfg.peft!r}: expected 'none' or 'lora'")
    tokenizer = load_tokenizer(model_path)
    tokenized, dropped = tokenize_examples(list(examples), tokenizer, cfg.max_length)
    if not tokenized:
        raise ValueError(
            f"no SFT example fits sft.max_length={cfg.max_length} "
            f"({dropped} dropped: the prompt alone is too long)"
        )
    rows = [{"input_ids": t["input_ids"], "labels": labels_of(t)} for t in tokenized]
    dataset = Dataset.from_list(rows)

    scheduler_kwargs = (
        {"min_lr_rate": float(cfg.min_lr_rate)} if cfg.lr_scheduler == "cosine_with_min_lr" else {}
    )
    args = TRLSFTConfig(
        **_trainer_args(
            cfg,
            out_dir,
            num_train_epochs=float(cfg.epochs),
            lr_scheduler_type=cfg.lr_scheduler,
            lr_scheduler_kwargs=scheduler_kwargs,
            warmup_steps=float(cfg.warmup_ratio),  # transformers 5: a float < 1 is a ratio of the steps
            max_length=int(cfg.max_length),
            completion_only_loss=True,  # our labels already mask the prompt; this keeps TRL from re-deciding
        )
    )
    peft_config = _lora_config(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) if cfg.peft == "lora" else None
    trainer = SFTTrainer(
        model=str(model_path),
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_log_callback(log_fn)],
    )
    if not args.packing:
        _check_labels(trainer.train_dataset, [r["labels"] for r in rows])
    output = trainer.train()
    _save(trainer, model_path, Path(out_dir), tokenizer, lora=cfg.peft == "lora")
    return {
        **_final(output),
        "num_examples": len(tokenized),
        "dropped_examples": dropped,
        "num_tokens": sum(len(t["input_ids"]) for t in tokenized),
        "num_target_tokens": sum(sum(t["completion_mask"]) for t in tokenized),
        "log_history": list(trainer.state.log_history),
    }


def sequence_diagnostics(
    examples: list[dict],
    model_path: str,
    tokenizer: Any,
    max_examples: int = 256,
    *,
    max_length: int | None = None,
    batch_tokens: int = 16384,
    seed: int = 0,
) -> dict:
    """How on-policy the SFT targets are: mean next-token NLL and entropy under the base model.

    Averaged over target tokens (those an SFT run trains on) of up to ``max_examples`` examples
    (a seeded sample). The paper (Fig. 6): InT 0.29 vs base 0.26 vs reference-solution SFT 1.66
    entropy; low values mean the SFT data is close to what the model would write itself.

    Returns:
        ``nll``, ``entropy`` (nats per token), ``diag_examples``, ``diag_tokens``.
    """
    import torch

    from int_exp.models import load_causal_lm

    examples = list(examples)
    if len(examples) > max_examples:
        examples = random.Random(seed).sample(examples, max_examples)
    tokenized = [t for t in (tokenize_example(e, tokenizer, max_length) for e in examples) if t is not None]
    if not tokenized:
        return {"nll": float("nan"), "entropy": float("nan"), "diag_examples": 0, "diag_tokens": 0}
    device = "cuda" if cuda_available() else "cpu"
    model = load_causal_lm(model_path, dtype="bfloat16" if device == "cuda" else "float32", device=device)
    model.eval()
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    nll_sum = entropy_sum = 0.0
    count = 0
    lengths = [len(t["input_ids"]) for t in tokenized]
    batches = length_batches(lengths, len(lengths), max_padded_tokens=batch_tokens)
    with torch.inference_mode():
        for batch in batches:
            width = max(len(tokenized[i]["input_ids"]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attn = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.bool)
            for row, i in enumerate(batch):
                seq = tokenized[i]
                ids[row, : len(seq["input_ids"])] = torch.tensor(seq["input_ids"])
                attn[row, : len(seq["input_ids"])] = 1
                mask[row, : len(seq["input_ids"])] = torch.tensor(seq["completion_mask"], dtype=torch.bool)
            ids, attn, mask = ids.to(device), attn.to(device), mask.to(device)
            hidden = decoder(input_ids=ids, attention_mask=attn).last_hidden_state
            # Position t predicts token t+1: keep the positions whose next token is a target token.
            predicts = hidden[:, :-1][mask[:, 1:]]
            targets = ids[:, 1:][mask[:, 1:]]
            for start in range(0, len(targets), 1024):  # bounded logits memory for big vocabularies
                logits = head(predicts[start : start + 1024]).float()
                logp = torch.log_softmax(logits, dim=-1)
                chunk = targets[start : start + 1024]
                nll_sum += float(-logp.gather(1, chunk[:, None]).sum())
                entropy_sum += float(-(logp.exp() * logp).sum())
                count += len(chunk)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {
        "nll": nll_sum / max(count, 1),
        "entropy": entropy_sum / max(count, 1),
        "diag_examples": len(tokenized),
        "diag_tokens": count,
    }


# -------------------------------------------------------------------------------------------- GRPO


def _completion_text(completion: Any) -> str:
    """Text of a completion: a string, or the assistant messages of a conversational completion."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if m.get("role", "assistant") == "assistant")


def correctness_reward(completions: list, answer: list, source: list | None = None, **kwargs: Any) -> list[float]:
    """Binary outcome reward: 1.0 when a completion's final answer matches the gold answer, else 0.0.

    TRL reward-function contract: ``completions`` are conversational (``[{"role": "assistant",
    "content": ...}]``) or plain strings; ``answer`` is the dataset column of gold answers (one per
    completion, repeated across a group), ``source`` the problems' sources, which pick each
    problem's domain grader (math's when absent); other columns arrive in ``kwargs``, ignored.
    """
    from int_exp.domains import DEFAULT_DOMAIN, grade_by_source

    texts = [_completion_text(c) for c in completions]
    sources = [str(s) for s in source] if source is not None else [DEFAULT_DOMAIN] * len(texts)
    return [1.0 if ok else 0.0 for ok in grade_by_source(texts, [str(a) for a in answer], sources)]


def run_grpo(
    prompts: list[dict],
    model_path: str,
    cfg: Any,
    out_dir: Path,
    *,
    reward_fn: Callable[..., list[float]],
    log_fn: LogFn | None = None,
) -> dict:
    """GRPO from ``model_path`` on conversational prompts; the model is saved into ``out_dir``.

    Args:
        prompts: ``{"prompt": [chat messages], "answer": ..., ...}``; every extra column reaches
            ``reward_fn`` as a keyword argument.
        model_path: the policy to start from.
        cfg: an ``RLConfig`` (or a DictConfig with its fields).
        out_dir: where the trained model and tokenizer are saved (a plain model: LoRA is merged).
        reward_fn: ``(completions, **columns) -> list[float]``, e.g. :func:`correctness_reward`.
        log_fn: called with ``(metrics, step)``: reward, reward_std, frac_reward_zero_std,
            completions/mean_length, loss, ...

    Returns:
        ``train_loss``, ``steps``, ``runtime``, ``num_prompts``, ``loss_type`` and ``log_history``.
    """
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from int_exp.models import load_tokenizer

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
    args = GRPOConfig(**_trainer_args(cfg, out_dir, **grpo_args))
    tokenizer = load_tokenizer(model_path)  # left padding, pad token set: what generation needs
    peft_config = _lora_config(cfg.lora_r, cfg.lora_alpha, 0.0) if cfg.peft == "lora" else None
    trainer = GRPOTrainer(
        model=str(model_path),
        reward_funcs=reward_fn,
        args=args,
        train_dataset=Dataset.from_list([dict(p) for p in prompts]),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[_log_callback(log_fn)],
    )
    output = trainer.train()
    _save(trainer, model_path, Path(out_dir), tokenizer, lora=cfg.peft == "lora")
    return {
        **_final(output),
        "num_prompts": len(prompts),
        "loss_type": args.loss_type,  # what TRL ran (trainer_kwargs may override rl.loss_type)
        "log_history": list(trainer.state.log_history),
    }
