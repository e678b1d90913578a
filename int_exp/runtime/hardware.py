"""Where a model runs: the device (``auto`` resolved once, here) and how many CPU threads it uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from int_exp.runtime import threads


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False where torch is missing or broken)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no usable torch means no GPU for us
        return False


def resolve_device(device: str) -> str:
    """``auto``: ``cuda`` where a GPU is visible, else ``cpu``; any other value as given."""
    if str(device) != "auto":
        return str(device)
    return "cuda" if cuda_available() else "cpu"


def thread_count(wanted: int = 0) -> int:
    """``wanted`` torch threads, or for 0 this job's thread budget (``$INT_EXP_THREADS``, set by
    the runner: int_exp/runtime/threads.py), else every core; at most 8 (more only adds overhead
    at these model sizes)."""
    if int(wanted or 0) > 0:
        return int(wanted)
    return max(1, min(threads.current() or os.cpu_count() or 1, 8))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the caller's setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
