"""The runner: plans which stages a job needs, then reuses or computes each one.

``stages`` names the targets. Stages upstream of a target are pulled in as they are declared as
inputs; a training stage runs only when named in ``stages`` and enabled by the variant, so
``stages=[eval]`` evaluates the base model and ``stages=[sft,rl,eval]`` the trained one. The plan
comes from the stages' declarations (:class:`~int_exp.pipeline.stage.Stage`): nothing here names a
stage.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omegaconf import DictConfig, OmegaConf

from int_exp.pipeline.cache import Cache, write_outputs
from int_exp.pipeline.fingerprint import Fingerprints
from int_exp.pipeline.plan import canonical_targets, execution_order, make_plan, stage_key
from int_exp.pipeline.shards import merge_shards
from int_exp.pipeline.stage import Stage, StageContext, StageResult
from int_exp.runtime import threads

log = logging.getLogger("int_exp.runner")


def restricted_config(subset: dict[str, Any]) -> DictConfig:
    """A read-only config holding only the declared keys: an undeclared read fails loudly."""
    cfg = OmegaConf.create({})
    for key, value in subset.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    OmegaConf.set_struct(cfg, True)
    OmegaConf.set_readonly(cfg, True)
    return cfg


def check_tables(stage: Stage, cfg: DictConfig, tables: dict) -> None:
    """A stage returns exactly the tables it declares (downstream stages read them by name)."""
    declared = stage.table_names(cfg)
    missing = [name for name in declared if name not in tables]
    if missing:
        raise RuntimeError(f"stage {stage.name!r} did not return its declared table(s) {missing}; it returned "
                           f"{sorted(tables)}")


class Runner:
    def __init__(self, cfg: DictConfig, tracker, stages: dict[str, Stage]):
        self.cfg, self.tracker, self.stages = cfg, tracker, stages
        self.cache = Cache(cfg.paths.cache_dir)
        self.fingerprints = Fingerprints(self.cache.root)
        self.cache.remove_dead_staging()
        self.plan = make_plan(cfg, stages)
        self.results: dict[str, StageResult] = {}

    def run(self) -> dict[str, StageResult]:
        merge_at = OmegaConf.select(self.cfg, "data.merge_at") if OmegaConf.select(self.cfg, "data.merge_shards") else None
        if merge_at:
            merge_at = canonical_targets([merge_at], self.stages)[0]
        order = execution_order(self.cfg, self.plan, self.stages, leaf=merge_at)
        log.info("stages to run: %s", " -> ".join(order))
        for name in order:
            self.results[name] = self.run_stage(self.stages[name], merge=name == merge_at)
        return self.results

    def run_stage(self, stage: Stage, merge: bool = False) -> StageResult:
        # This job's share of the cores, as jobs on this machine start and end (runtime/threads.py).
        budget = threads.follow(OmegaConf.select(self.cfg, "threads", default=0) or 0, threads.registry())
        self.tracker.log_metrics(None, {"threads": budget}, step=len(self.results))
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
            stage_run.finish(result, inputs)
        # Stage metrics are namespaced (funnel/..., sft/..., <dataset>/pass_at_k), so the job's
        # run carries all of them side by side for comparison.
        self.tracker.log_metrics(None, result.metrics)
        # Plots and per-problem summaries (eval's per_problem.csv, what the report's intervals
        # resample) beside the job's metrics.
        for path in (f for f in result.files if f.suffix in (".png", ".csv")):
            self.tracker.log_artifact(None, path)
        self.report(result)
        return result

    def load_or_compute(self, stage: Stage, key: str, subset: dict[str, Any], inputs: dict[str, StageResult],
                        stage_run) -> StageResult:
        name = stage.cache_name
        if self.cache.usable(name, key):
            return StageResult.load(stage.name, key, self.cache.entry(name, key), cache_hit=True)
        with self.cache.lock(name, key):
            if self.cache.usable(name, key):  # a concurrent job finished it meanwhile
                return StageResult.load(stage.name, key, self.cache.entry(name, key), cache_hit=True)
            with self.cache.staging(name, key) as out_dir:
                log.info("stage %s: computing (key %s)", stage.name, key)
                started = time.time()
                output = stage.run(self.context(stage, subset, inputs, out_dir, stage_run))
                check_tables(stage, self.cfg, output.tables)
                manifest = write_outputs(output, out_dir)
                manifest.update(stage=name, version=stage.version, key=key, config=subset,
                                inputs={role: r.key for role, r in inputs.items()},
                                seconds=round(time.time() - started, 3), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
                self.cache.commit(name, key, out_dir, manifest)
        return StageResult.load(stage.name, key, self.cache.entry(name, key), cache_hit=False)

    def context(self, stage: Stage, subset: dict[str, Any], inputs: dict[str, StageResult], out_dir,
                stage_run) -> StageContext:
        return StageContext(
            cfg=restricted_config(subset),
            inputs=inputs,
            out_dir=out_dir,
            log=logging.getLogger(f"int_exp.stages.{stage.name}"),
            backend_cfg=self.cfg.backend,
            upstream=dict(self.results),
            log_metrics=stage_run.log_metrics,
        )

    def report(self, result: StageResult) -> None:
        status = "cache hit" if result.cache_hit else f"computed in {result.manifest.get('seconds', 0):.1f}s"
        rows = {name: info["rows"] for name, info in result.manifest.get("tables", {}).items()}
        log.info("stage %s: %s, rows %s", result.stage, status, rows)
        if rows.get("main") == 0:
            log.warning("stage %s produced an EMPTY table: downstream stages have nothing to use", result.stage)
