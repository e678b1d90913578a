"""What a reasoning domain provides: the interface generic code sees (:class:`Domain`).

A domain (math, arith, ...) owns its problem sources, its grader (and so the RL reward), an
optional oracle proposer, its builtin models and the config sections those read. Generic code
(stages, the runner, the data loader, the RL reward) reaches a domain only through the registry
in :mod:`int_exp.domains`, by the ``source`` of a dataset or of a problem row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from int_exp.models.builtin import BuiltinModel


@runtime_checkable
class Domain(Protocol):
    name: str
    # Config sections the domain adds to the root schema, by dotted path ("data.arith": ArithConfig;
    # "data.<spec>.arith" is the per-dataset override). Their keys enter the cache keys of the
    # stages that read the domain's data.
    settings: Mapping[str, type]
    builtin_models: Mapping[str, BuiltinModel]

    def owns(self, source: str) -> bool:
        """Whether ``data.*.source`` values like ``source`` are this domain's problems."""
        ...

    def settings_keys(self, source: str) -> list[str]:
        """The config keys that define the problems of ``source`` (for the cache key)."""
        ...

    def read(self, source: str, split: str, spec: Any, data_cfg: Any) -> Any:
        """Every row of ``source`` (split ``split``) as a DataFrame with at least ``problem``,
        ``answer``, ``reference_solution``, ``source`` and ``problem_id``."""
        ...

    def grade_many(self, outputs: Sequence[str], golds: Sequence[str], *, progress: bool = False) -> list[bool]:
        """Whether each output's final answer equals its gold answer."""
        ...

    def answers_equivalent(self, pred: str, gold: str) -> bool:
        """Whether two bare answers are equal (the leak filter asks this)."""
        ...

    def oracle(self) -> Callable[[dict, str], str] | None:
        """An exact step checker writing an ``<intervention>`` for (problem row, failed attempt),
        or None when the domain has none (``intervention.proposer=auto`` then uses the policy)."""
        ...


@dataclass
class SimpleDomain:
    """A :class:`Domain` assembled from functions (the builtin domains and plugins use it)."""

    name: str
    sources: tuple[str, ...]
    read_fn: Callable[..., Any]
    grade_fn: Callable[..., list[bool]]
    equivalent_fn: Callable[[str, str], bool]
    settings: Mapping[str, type] = field(default_factory=dict)
    builtin_models: Mapping[str, BuiltinModel] = field(default_factory=dict)
    oracle_fn: Callable[[dict, str], str] | None = None
    source_settings: tuple[str, ...] = ()  # data.<key> sections that define this domain's problems

    def owns(self, source: str) -> bool:
        return source in self.sources

    def settings_keys(self, source: str) -> list[str]:
        return [f"data.{key}" for key in self.source_settings]

    def read(self, source: str, split: str, spec: Any, data_cfg: Any) -> Any:
        return self.read_fn(source, split, spec, data_cfg)

    def grade_many(self, outputs: Sequence[str], golds: Sequence[str], *, progress: bool = False) -> list[bool]:
        return self.grade_fn(list(outputs), list(golds), progress=progress)

    def answers_equivalent(self, pred: str, gold: str) -> bool:
        return self.equivalent_fn(pred, gold)

    def oracle(self) -> Callable[[dict, str], str] | None:
        return self.oracle_fn
