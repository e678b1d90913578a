"""bf16 autocast or fp32 for training a small model, chosen by measuring on the CPU.

The CPU flags do not tell which is faster. On an AMD EPYC with AVX512-BF16 (2 cores, 2026-12-01)
bf16 autocast trained the sandbox model 1.5x faster than fp32; on an Intel Xeon with AVX512-BF16
and no AMX (2 cores, 2026-12-02) it was 1.6x slower (2.45 vs 3.90 steps/s: the autocast copies
cost more than the bf16 matmuls save at these sizes). So ``precision: auto`` times a few forward
and backward passes of the real model on a real batch in both precisions and takes the faster;
where the CPU has no native bf16 it is fp32 without a measurement, and on CUDA bf16 where the GPU
supports it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["PRECISIONS", "backward_loss", "choose_bf16", "has_native_bf16", "time_passes"]

PRECISIONS = ("auto", "fp32", "bf16")


def has_native_bf16(device: str) -> bool:
    """Whether the hardware computes in bf16 natively (a GPU that supports it; a CPU with
    AVX512-BF16 or AMX). Without it, bf16 is emulated and always slower."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def backward_loss(model: Any, batch: tuple[Any, Any], device: str, bf16: bool) -> Any:
    """Forward ``batch`` (input ids, labels) through ``model``, in bf16 autocast if ``bf16``, and
    back-propagate its loss; returns the loss. One training pass, timed or not."""
    import torch

    input_ids, labels = (t.to(device) for t in batch)
    with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=input_ids, labels=labels).loss
    loss.backward()
    return loss


def time_passes(model: Any, batch: tuple[Any, Any], device: str, bf16: bool, *, warmup: int = 2,
                repeats: int = 3) -> float:
    """The fastest of ``repeats`` forward + backward passes of ``model`` on ``batch`` (input ids,
    labels), in seconds, after ``warmup`` untimed ones (the CPU kernels are built on first use).
    The gradients are dropped afterwards, so the model and its training are left as they were."""
    import torch

    batch = tuple(t.to(device) for t in batch)
    best = float("inf")
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        backward_loss(model, batch, device, bf16)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            best = min(best, time.perf_counter() - t0)
    model.zero_grad(set_to_none=True)
    return best


def choose_bf16(precision: str, device: str, model: Any, batch: tuple[Any, Any], *,
                timer: Callable[..., float] = time_passes) -> tuple[bool, dict[str, Any]]:
    """Whether to train in bf16 autocast, and how that was decided (for the model card).

    ``precision`` is ``fp32``, ``bf16`` (taken as given) or ``auto``: bf16 on a CUDA GPU that
    supports it, fp32 on a CPU without native bf16, and on a CPU with it whichever of the two
    ``timer(model, batch, device, bf16)`` finds faster."""
    if precision not in PRECISIONS:
        raise ValueError(f"model.sandbox.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision == "bf16", {"precision": precision, "how": "configured"}
    if not has_native_bf16(device):
        return False, {"precision": "fp32", "how": "no native bf16 on this hardware"}
    if device.startswith("cuda"):
        return True, {"precision": "bf16", "how": "GPU with bf16"}
    seconds = {"fp32": timer(model, batch, device, False), "bf16": timer(model, batch, device, True)}
    bf16 = seconds["bf16"] < seconds["fp32"]
    log.info("precision auto: forward+backward fp32 %.3f s, bf16 autocast %.3f s -> %s",
             seconds["fp32"], seconds["bf16"], "bf16" if bf16 else "fp32")
    return bf16, {"precision": "bf16" if bf16 else "fp32", "how": "measured",
                  "pass_seconds": {k: round(v, 4) for k, v in seconds.items()}}
