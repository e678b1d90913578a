"""What a trainer is: the interface the training stages and ``accelerate launch`` see.

A trainer turns training rows into a model folder. It declares the keys of its config section it
reads (they enter the stage's cache key; the runner hands the stage a config restricted to them)
and gets the reward from its caller: the training stages pass the grader of each problem's domain
(:func:`int_exp.domains.reward.correctness_reward`), which a trainer without a reward ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

LogFn = Callable[[dict, int], None]
# TRL's reward contract: (completions, **dataset columns) -> one float per completion.
RewardFn = Callable[..., list[float]]


@runtime_checkable
class Trainer(Protocol):
    name: str  # what `sft.trainer` / `rl.trainer` say to choose it
    reads: Sequence[str]  # keys of its config section it reads (`lora_r`, not `sft.lora_r`)

    def train(self, data: list[dict], model_path: str, cfg: Any, out_dir: Path, *,
              reward_fn: RewardFn | None = None, log_fn: LogFn | None = None) -> dict:
        """Train from ``model_path`` on ``data``, save a plain model folder into ``out_dir`` and
        return the final metrics (numbers are logged by the stage, under its prefix). ``log_fn``
        gets ``(metrics, step)`` for every training log, from the main process only."""
        ...


@dataclass(frozen=True)
class FunctionTrainer:
    """A :class:`Trainer` from a function ``fn(data, model_path, cfg, out_dir, *, reward_fn,
    log_fn)`` (SFT and GRPO are two)."""

    name: str
    reads: tuple[str, ...]
    fn: Callable[..., dict]

    def train(self, data: list[dict], model_path: str, cfg: Any, out_dir: Path, *,
              reward_fn: RewardFn | None = None, log_fn: LogFn | None = None) -> dict:
        return self.fn(data, model_path, cfg, out_dir, reward_fn=reward_fn, log_fn=log_fn)
