"""What a trainer is: the interface the training stages and ``accelerate launch`` see.

A trainer turns training rows into a model folder. It names the config section it trains from
(``sft`` or ``rl``) and declares its settings as a dataclass, the way a domain declares its
sections: each field is a key of that section, with its type, default and doc. The root schema
adds every trainer's fields to its section (:func:`section_fields`, used by
:mod:`int_exp.domains.schema`), so a misspelt key fails at composition; the trainer's keys
(:func:`settings_keys`) enter the stage's cache key, and the runner hands the stage a config
restricted to them. A new setting is therefore one field of the trainer's dataclass (plus its
YAML value when that differs from the default).

The reward comes from the caller: the training stages pass the grader of each problem's domain
(:func:`int_exp.domains.reward.correctness_reward`), which a trainer without a reward ignores.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

LogFn = Callable[[dict, int], None]
# TRL's reward contract: (completions, **dataset columns) -> one float per completion.
RewardFn = Callable[..., list[float]]


@runtime_checkable
class Trainer(Protocol):
    name: str  # what `sft.trainer` / `rl.trainer` say to choose it
    section: str  # the config section it trains from: sft | rl
    settings: type | None  # a dataclass: the keys of `section` it reads (`lora_r`, not `sft.lora_r`)

    def train(self, data: list[dict], model_path: str, cfg: Any, out_dir: Path, *,
              reward_fn: RewardFn | None = None, log_fn: LogFn | None = None) -> dict:
        """Train from ``model_path`` on ``data``, save a plain model folder into ``out_dir`` and
        return the final metrics (numbers are logged by the stage, under its prefix). ``cfg`` holds
        the trainer's settings (a config section or an instance of ``settings``); ``log_fn`` gets
        ``(metrics, step)`` for every training log, from the main process only."""
        ...


def settings_keys(settings: type | None) -> tuple[str, ...]:
    """The keys a settings dataclass declares, in field order (none for None)."""
    return tuple(f.name for f in dataclasses.fields(settings)) if settings is not None else ()


@dataclass(frozen=True)
class FunctionTrainer:
    """A :class:`Trainer` from a function ``fn(data, model_path, cfg, out_dir, *, reward_fn,
    log_fn)`` and its settings dataclass (SFT and GRPO are two)."""

    name: str
    section: str
    settings: type | None
    fn: Callable[..., dict]

    @property
    def reads(self) -> tuple[str, ...]:
        """The keys of ``section`` this trainer reads: its settings' fields."""
        return settings_keys(self.settings)

    def train(self, data: list[dict], model_path: str, cfg: Any, out_dir: Path, *,
              reward_fn: RewardFn | None = None, log_fn: LogFn | None = None) -> dict:
        return self.fn(data, model_path, cfg, out_dir, reward_fn=reward_fn, log_fn=log_fn)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _copy(f: dataclasses.Field, hint: Any) -> tuple[str, Any, dataclasses.Field]:
    if f.default is not dataclasses.MISSING:
        return f.name, hint, dataclasses.field(default=f.default, metadata=f.metadata)
    return f.name, hint, dataclasses.field(default_factory=f.default_factory, metadata=f.metadata)


def section_fields(section: str, base: type, trainers: Iterable[Trainer]) -> list[tuple[str, Any, Any]]:
    """The fields the trainers of ``section`` add to its schema ``base`` (the stage's own keys),
    for :func:`dataclasses.make_dataclass`, in the order the trainers come.

    A key two trainers declare (or a trainer and ``base``) is one setting: it must have one type
    and one default, else this raises naming the key and both declarers (a trainer that wants
    another value sets it in its YAML). Every setting needs a default.
    """
    seen: dict[str, tuple[str, Any, Any]] = {}  # key -> (declarer, type, default)
    base_hints = typing.get_type_hints(base)
    for f in dataclasses.fields(base):
        seen[f.name] = (f"the {section} stage", base_hints[f.name], _default(f))
    added = []
    for trainer in trainers:
        if trainer.section != section or trainer.settings is None:
            continue
        hints = typing.get_type_hints(trainer.settings)
        for f in dataclasses.fields(trainer.settings):
            declared = (f"trainer {trainer.name!r}", hints[f.name], _default(f))
            if declared[2] is dataclasses.MISSING:
                raise TypeError(f"{section}.{f.name}: trainer {trainer.name!r} gives it no default; every "
                                "trainer setting needs one")
            if f.name not in seen:
                seen[f.name] = declared
                added.append(_copy(f, hints[f.name]))
            elif seen[f.name][1:] != declared[1:]:
                (who, hint, value), first = declared, seen[f.name]
                raise TypeError(f"{section}.{f.name}: {who} declares {hint} = {value!r}, {first[0]} {first[1]} = "
                                f"{first[2]!r}; a key of a section has one type and one default (set another "
                                "value in the trainer's YAML)")
    return added
