"""The sandbox model's training primitives, shared by its two phases (solving,
:mod:`int_exp.domains.arith.sandbox_model`; self-verification,
:mod:`int_exp.domains.arith.verification_training`): optimizers with their schedules, batches,
and one optimizer step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from int_exp.models.precision import backward_loss

__all__ = ["OPTIMIZERS", "batch_tensors", "lr_lambda", "make_optimizers", "train_step"]


def lr_lambda(steps: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    """The learning-rate factor at a step: linear warmup, then cosine decay to ``min_ratio``."""

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_at


OPTIMIZERS = ("muon", "adamw")


def make_optimizers(cfg: Any, model: Any, steps: int | None = None, scale: float = 1.0) -> list[tuple[Any, Any]]:
    """The optimizers and their warmup + cosine schedules, as ``(optimizer, scheduler)`` pairs.

    ``muon``: Muon on the hidden weight matrices (attention and MLP) and AdamW on the rest (the
    tied embedding and the norms): 600 steps come near 1500 AdamW steps, and 1000 beat 1800
    (docs/results/sandbox-build/README.md). ``adamw``: AdamW on everything. AdamW never
    decays 1-d parameters (the norms).
    """
    import torch

    from int_exp.models.muon import BatchedMuon  # imports torch: only when training

    name = str(cfg.optimizer)
    if name not in OPTIMIZERS:
        raise ValueError(f"model.sandbox.optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")
    matrices, rest = [], []
    for param_name, param in model.named_parameters():
        hidden_matrix = param.dim() == 2 and "embed" not in param_name and "lm_head" not in param_name
        (matrices if name == "muon" and hidden_matrix else rest).append(param)
    decay = [p for p in rest if p.dim() >= 2]
    no_decay = [p for p in rest if p.dim() < 2]
    optimizers = [torch.optim.AdamW(
        [{"params": decay, "weight_decay": float(cfg.weight_decay)}, {"params": no_decay, "weight_decay": 0.0}],
        lr=float(cfg.learning_rate) * scale,
        betas=(0.9, 0.98),
    )]
    if matrices:
        optimizers.append(BatchedMuon(matrices, lr=float(cfg.muon_learning_rate) * scale,
                                      weight_decay=float(cfg.weight_decay), momentum=0.95))
    steps = int(cfg.train_steps) if steps is None else steps
    warmup = max(1, min(int(cfg.warmup_steps), steps // 10))
    lr_at = lr_lambda(steps, warmup, float(cfg.min_lr_ratio))
    return [(opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_at)) for opt in optimizers]


def batch_tensors(batch: list[tuple[list[int], int]], pad_id: int) -> tuple[Any, Any]:
    """``(input_ids, labels)`` of a batch, right-padded, labels only on the part after the prompt."""
    import torch

    # Widths rounded up to a multiple of 32: a handful of tensor shapes instead of hundreds,
    # so the CPU kernels (oneDNN under bf16 autocast) are built once per shape and reused.
    width = -(-max(len(ids) for ids, _ in batch) // 32) * 32
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for r, (ids, n_prompt) in enumerate(batch):  # right padding: causal attention never sees it
        input_ids[r, : len(ids)] = torch.tensor(ids)
        labels[r, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
    return input_ids, labels


def train_step(model: Any, optimizers: list[tuple[Any, Any]], batch: tuple[Any, Any], device: str,
                bf16: bool) -> float:
    """One step of every optimizer on ``batch`` (input ids, labels); returns its loss."""
    import torch

    loss = backward_loss(model, batch, device, bf16)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for optimizer, scheduler in optimizers:
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())
