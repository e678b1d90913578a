"""The stage contract.

A stage is the science of one step: it declares the config keys it reads, the upstream stages it
consumes (by role) and a ``run`` function that turns its inputs into tables, metrics and files in
an output directory it is handed. It never decides where files live, never talks to MLflow and
never sees config keys it did not declare: the runner hands it a config restricted to ``reads``,
so the cache key (built from exactly those keys) cannot go stale.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

ConfigKeys = Sequence[str] | Callable[[Any], Sequence[str]]
InputMap = Mapping[str, str] | Callable[[Any, "Plan"], Mapping[str, str]]

MANIFEST = "manifest.json"


class EmptyStageError(RuntimeError):
    """A stage cannot run because an upstream step left it nothing to work on."""


@dataclass(frozen=True)
class Plan:
    """What this job runs, decided once from ``stages``, the variant and the stages' declarations.

    ``order`` is every stage in pipeline order; ``policies`` the stages whose model a later stage
    may use (the base model and each training stage this job runs), in that order.
    """

    targets: tuple[str, ...]
    order: tuple[str, ...]
    policies: tuple[str, ...]
    skipped: tuple[str, ...] = ()  # stages named in `stages` that the variant disables (or their evaluated stage)

    def policy_before(self, stage: str) -> str:
        """The stage whose model ``stage`` uses: the last policy this job produces before it."""
        position = self.order.index(stage)
        earlier = [name for name in self.policies if self.order.index(name) < position]
        if not earlier:
            raise ValueError(f"stage {stage!r} needs a policy, and no policy stage comes before it")
        return earlier[-1]

    def runs(self, stage: str) -> bool:
        return stage not in self.skipped


@dataclass
class StageOutput:
    """What a stage returns. Tables are written as parquet; ``model`` is a folder or a hub id."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # files in out_dir worth logging (plots, reports)
    model: str | None = None  # relative folder in out_dir, or an external id/path
    model_is_external: bool = False
    summary: dict[str, Any] = field(default_factory=dict)  # small JSON-able facts (counts, notes)


@dataclass
class StageResult:
    """A finished stage as recorded in its manifest; what downstream stages receive."""

    stage: str
    key: str
    dir: Path
    manifest: dict[str, Any]
    cache_hit: bool = False

    @property
    def metrics(self) -> dict[str, float]:
        return self.manifest.get("metrics", {})

    @property
    def files(self) -> list[Path]:
        return [self.dir / name for name in self.manifest.get("files", [])]

    @property
    def table_names(self) -> list[str]:
        return list(self.manifest.get("tables", {}))

    def table(self, name: str = "main") -> pd.DataFrame:
        tables = self.manifest.get("tables", {})
        if name not in tables:
            raise KeyError(f"stage {self.stage!r} has no table {name!r}; it has {sorted(tables)}")
        return pd.read_parquet(self.dir / tables[name]["file"])

    def rows(self, name: str = "main") -> list[dict[str, Any]]:
        return self.table(name).to_dict("records")

    @property
    def model_path(self) -> str:
        model = self.manifest.get("model")
        if model is None:
            raise KeyError(f"stage {self.stage!r} produced no model")
        return model["path"] if model["external"] else str(self.dir / model["path"])

    @classmethod
    def load(cls, stage: str, key: str, entry_dir: Path, cache_hit: bool) -> StageResult:
        manifest = json.loads((entry_dir / MANIFEST).read_text())
        return cls(stage=stage, key=key, dir=entry_dir, manifest=manifest, cache_hit=cache_hit)


@dataclass
class StageContext:
    """Everything a stage may use while it runs."""

    cfg: Any  # the resolved config, restricted to the stage's declared reads
    inputs: dict[str, StageResult]
    out_dir: Path
    log: logging.Logger
    backend_cfg: Any  # full backend config (performance knobs do not enter cache keys)
    upstream: dict[str, StageResult] = field(default_factory=dict)  # every stage finished so far
    log_metrics: Callable[[dict[str, float], int], None] = lambda metrics, step: None

    def make_backend(self, model_path: str, dtype: str = "float32", max_context: int | None = None):
        from int_exp.backends import make_backend

        return make_backend(self.backend_cfg, model_path, dtype=dtype, max_context=max_context)


TableNames = Sequence[str] | Callable[[Any], Sequence[str]]


@dataclass(frozen=True)
class Stage:
    """A stage's declaration; the runner derives the job's plan from these alone.

    ``inputs`` maps roles to upstream stage names (a callable may use the plan, e.g.
    ``plan.policy_before(name)``). ``tables`` names the tables the stage outputs. ``policy``: the
    stage outputs a model later stages may sample from or train. ``trains``: a training stage,
    run only when named in ``stages`` and enabled by ``<trains>.enabled`` (the variant sets it).
    ``legacy_name``: the name the stage had when its cache entries were written (they stay valid).
    ``evaluates``: the training stage whose model this stage measures (skipped when that one is).
    """

    name: str
    version: str  # bump when the logic changes what the stage outputs
    reads: ConfigKeys
    inputs: InputMap
    run: Callable[[StageContext], StageOutput]
    description: str = ""
    tables: TableNames = ("main",)
    policy: bool = False
    trains: str | None = None
    legacy_name: str | None = None
    # The training stage whose model this stage measures: skipped when the job does not run it.
    evaluates: str | None = None

    @property
    def cache_name(self) -> str:
        """The name in cache keys and cache folders (unchanged by a rename)."""
        return self.legacy_name or self.name

    def config_keys(self, cfg: Any) -> list[str]:
        keys = self.reads(cfg) if callable(self.reads) else self.reads
        return sorted(set(keys))

    def input_map(self, cfg: Any, plan: Plan) -> dict[str, str]:
        return dict(self.inputs(cfg, plan) if callable(self.inputs) else self.inputs)

    def table_names(self, cfg: Any) -> list[str]:
        return list(self.tables(cfg) if callable(self.tables) else self.tables)

    def enabled(self, cfg: Any) -> bool:
        """A training stage's switch (``<trains>.enabled``); other stages are always enabled."""
        if self.trains is None:
            return True
        return bool(OmegaConf.select(cfg, f"{self.trains}.enabled", default=True))
