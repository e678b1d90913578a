"""The runner: plans which stages a job needs, then reuses or computes each one.

``stages`` names the targets. Data stages upstream of a target are pulled in as needed; the
training stages (``sft``, ``rl``) run only when named in ``stages`` and enabled by the variant, so
``stages=[eval]`` evaluates the base model and ``stages=[sft,rl,eval]`` the trained one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from int_exp.pipeline.cache import Cache, cache_key, config_subset, file_digest, folder_sizes
from int_exp.pipeline.fingerprint import Fingerprints
from int_exp.pipeline.stage import Plan, Stage, StageContext, StageOutput, StageResult

log = logging.getLogger("int_exp.runner")

TRAINING_STAGES = ("sft", "rl")


def make_plan(cfg: DictConfig, stages: dict[str, Stage]) -> Plan:
    targets = tuple(cfg.stages)
    unknown = [name for name in targets if name not in stages]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown} in `stages`; valid stages: {sorted(stages)}")
    plan = Plan(
        targets=targets,
        sft="sft" in targets and bool(cfg.sft.enabled),
        rl="rl" in targets and bool(cfg.rl.enabled),
    )
    skipped = [name for name in TRAINING_STAGES if name in targets and not getattr(plan, name)]
    if skipped:
        log.info("variant %s disables %s: skipped", cfg.variant.name, skipped)
    return plan


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
        if target in TRAINING_STAGES and not getattr(plan, target):
            continue
        visit(target)
    return order


def stage_key(stage: Stage, cfg: DictConfig, input_keys: dict[str, str],
              fingerprints: Fingerprints | None = None) -> tuple[str, dict[str, Any]]:
    """The cache key of ``stage`` under ``cfg`` given its inputs' keys, and the config subset.
    Local files and folders the subset names enter the key by content."""
    subset = config_subset(cfg, stage.config_keys(cfg))
    fingerprints = fingerprints or Fingerprints(Path(cfg.paths.cache_dir))
    return cache_key(stage.name, stage.version, subset, input_keys, fingerprints.of(subset)), subset


def plan_keys(cfg: DictConfig, stages: dict[str, Stage]) -> dict[str, str]:
    """Every stage's cache key for ``cfg``, computed without running anything."""
    plan = make_plan(cfg, stages)
    keys: dict[str, str] = {}
    fingerprints = Fingerprints(Path(cfg.paths.cache_dir))
    for name in execution_order(cfg, plan, stages):
        inputs = {role: keys[up] for role, up in stages[name].input_map(cfg, plan).items()}
        keys[name] = stage_key(stages[name], cfg, inputs, fingerprints)[0]
    return keys


def restricted_config(subset: dict[str, Any]) -> DictConfig:
    """A read-only config holding only the declared keys: an undeclared read fails loudly."""
    cfg = OmegaConf.create({})
    for key, value in subset.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.set_struct(cfg, True)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def write_outputs(output: StageOutput, out_dir) -> dict[str, Any]:
    """Persist a stage's tables and describe everything in the manifest."""
    tables = {}
    for name, df in output.tables.items():
        path = out_dir / f"{name}.parquet"
        df.to_parquet(path, index=False)
        tables[name] = {"file": path.name, "rows": len(df), "columns": list(df.columns), "digest": file_digest(path),
                        "bytes": path.stat().st_size}
    manifest: dict[str, Any] = {
        "tables": tables,
        "metrics": {k: float(v) for k, v in output.metrics.items()},
        "files": [str(f) for f in output.files],
        "summary": output.summary,
    }
    if output.model is not None:
        manifest["model"] = {"path": output.model, "external": output.model_is_external}
        if not output.model_is_external and (out_dir / output.model).is_dir():
            manifest["model"]["files"] = folder_sizes(out_dir / output.model)
    return manifest


class Runner:
    def __init__(self, cfg: DictConfig, tracker, stages: dict[str, Stage] | None = None):
        if stages is None:
            from int_exp.stages import STAGES as stages
        self.cfg, self.tracker, self.stages = cfg, tracker, stages
        self.cache = Cache(cfg.paths.cache_dir)
        self.fingerprints = Fingerprints(self.cache.root)
        self.cache.remove_dead_staging()
        self.plan = make_plan(cfg, stages)
        self.results: dict[str, StageResult] = {}

    def run(self) -> dict[str, StageResult]:
        merge_at = OmegaConf.select(self.cfg, "data.merge_at") if OmegaConf.select(self.cfg, "data.merge_shards") else None
        order = execution_order(self.cfg, self.plan, self.stages, leaf=merge_at)
        log.info("stages to run: %s", " -> ".join(order))
        for name in order:
            self.results[name] = self.run_stage(self.stages[name], merge=name == merge_at)
        return self.results

    def run_stage(self, stage: Stage, merge: bool = False) -> StageResult:
        from int_exp.pipeline.shards import merge_shards

        if merge:  # built from shard entries, not from this job's upstream stages
            inputs, key, subset = {}, None, {}
        else:
            inputs = {role: self.results[up] for role, up in stage.input_map(self.cfg, self.plan).items()}
            key, subset = stage_key(stage, self.cfg, {role: r.key for role, r in inputs.items()}, self.fingerprints)
        with self.tracker.stage(stage.name, key or "merge") as stage_run:
            if merge:
                result = merge_shards(self.cfg, self.stages, stage.name, self.cache)
            else:
                result = self.load_or_compute(stage, key, subset, inputs, stage_run)
            stage_run.finish(result)
        # Stage metrics are namespaced (funnel/..., sft/..., <dataset>/pass_at_k), so the job's
        # run carries all of them side by side for comparison.
        self.tracker.log_metrics(None, result.metrics)
        for plot in (f for f in result.files if f.suffix == ".png"):  # plots beside the job's metrics
            self.tracker.log_artifact(None, plot)
        self.report(result)
        return result

    def load_or_compute(self, stage, key, subset, inputs, stage_run) -> StageResult:
        entry = self.cache.entry(stage.name, key)
        if self.cache.usable(stage.name, key):
            return StageResult.load(stage.name, key, entry, cache_hit=True)
        with self.cache.lock(stage.name, key):
            if self.cache.usable(stage.name, key):  # a concurrent job finished it meanwhile
                return StageResult.load(stage.name, key, entry, cache_hit=True)
            with self.cache.staging(stage.name, key) as out_dir:
                log.info("stage %s: computing (key %s)", stage.name, key)
                started = time.time()
                context = StageContext(
                    cfg=restricted_config(subset),
                    inputs=inputs,
                    out_dir=out_dir,
                    log=logging.getLogger(f"int_exp.stages.{stage.name}"),
                    backend_cfg=self.cfg.backend,
                    upstream=dict(self.results),
                    log_metrics=stage_run.log_metrics,
                )
                output = stage.run(context)
                manifest = write_outputs(output, out_dir)
                manifest.update(
                    stage=stage.name,
                    version=stage.version,
                    key=key,
                    config=subset,
                    inputs={role: r.key for role, r in inputs.items()},
                    seconds=round(time.time() - started, 3),
                    created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                )
                self.cache.commit(stage.name, key, out_dir, manifest)
        return StageResult.load(stage.name, key, entry, cache_hit=False)

    def report(self, result: StageResult) -> None:
        status = "cache hit" if result.cache_hit else f"computed in {result.manifest.get('seconds', 0):.1f}s"
        rows = {name: info["rows"] for name, info in result.manifest.get("tables", {}).items()}
        log.info("stage %s: %s, rows %s", result.stage, status, rows)
        if rows.get("main") == 0:
            log.warning("stage %s produced an EMPTY table: downstream stages have nothing to use", result.stage)
