"""The plan of a job and the cache keys of its stages, computed from the stages' declarations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from int_exp.pipeline.cache import cache_key, config_subset
from int_exp.pipeline.fingerprint import Fingerprints
from int_exp.pipeline.stage import Plan, Stage

log = logging.getLogger("int_exp.runner")


def canonical_targets(names, stages: dict[str, Stage]) -> tuple[str, ...]:
    """``stages=[...]`` with legacy names (a renamed stage's old name) read as the current ones."""
    legacy = {stage.legacy_name: name for name, stage in stages.items() if stage.legacy_name}
    renamed = {name: legacy[name] for name in names if name in legacy}
    if renamed:
        log.warning("stage names %s are the old names of %s", list(renamed), list(renamed.values()))
    return tuple(renamed.get(name, name) for name in names)


def make_plan(cfg: DictConfig, stages: dict[str, Stage]) -> Plan:
    """The job's plan from ``cfg.stages`` and the stages' declarations (no stage is named here)."""
    targets = canonical_targets(cfg.stages, stages)
    unknown = [name for name in targets if name not in stages]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown} in `stages`; valid stages: {sorted(stages)}")
    # A training stage runs when it is a target and its variant switch is on.
    training = {name for name, stage in stages.items() if stage.trains}
    active = {name for name in training if name in targets and stages[name].enabled(cfg)}
    skipped = tuple(name for name in targets if (name in training and name not in active)
                    or (stages[name].evaluates is not None and stages[name].evaluates not in active))
    if skipped:
        log.info("variant %s disables %s: skipped", cfg.variant.name, list(skipped))
    policies = tuple(name for name, stage in stages.items() if stage.policy and (name not in training or name in active))
    return Plan(targets=targets, order=tuple(stages), policies=policies, skipped=skipped)


def execution_order(cfg: DictConfig, plan: Plan, stages: dict[str, Stage], leaf: str | None = None) -> list[str]:
    """Targets and everything they consume, upstream first (``leaf``'s own inputs are not visited)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"stage graph has a cycle through {name!r}")
        visiting.add(name)
        for upstream in ([] if name == leaf else stages[name].input_map(cfg, plan).values()):
            visit(upstream)
        visiting.discard(name)
        order.append(name)

    for target in plan.targets:
        if plan.runs(target):
            visit(target)
    return order


def stage_key(stage: Stage, cfg: DictConfig, input_keys: dict[str, str],
              fingerprints: Fingerprints | None = None) -> tuple[str, dict[str, Any]]:
    """The cache key of ``stage`` under ``cfg`` given its inputs' keys, and the config subset.
    Local files and folders the subset names enter the key by content."""
    subset = config_subset(cfg, stage.config_keys(cfg))
    fingerprints = fingerprints or Fingerprints(Path(cfg.paths.cache_dir))
    return cache_key(stage.cache_name, stage.version, subset, input_keys, fingerprints.of(subset)), subset


def plan_keys(cfg: DictConfig, stages: dict[str, Stage]) -> dict[str, str]:
    """Every stage's cache key for ``cfg``, computed without running anything."""
    plan = make_plan(cfg, stages)
    keys: dict[str, str] = {}
    fingerprints = Fingerprints(Path(cfg.paths.cache_dir))
    for name in execution_order(cfg, plan, stages):
        inputs = {role: keys[up] for role, up in stages[name].input_map(cfg, plan).items()}
        keys[name] = stage_key(stages[name], cfg, inputs, fingerprints)[0]
    return keys


