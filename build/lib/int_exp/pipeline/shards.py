"""Sharded stages: split a long stage over a SLURM array, then merge the shards.

    python run.py -m stages=[correctness_filter] data.shard=0/4,1/4,2/4,3/4 hydra/launcher=slurm
    python run.py data.merge_shards=4 stages=[sft,rl,eval]      # merges correctness_filter, trains

Each shard job runs the chain on its slice of the training problems (``data.shard=i/N``), so its
entries have their own cache keys. A merging job computes, without running anything, the key
``data.merge_at`` (default ``correctness_filter``) has in each shard job, concatenates those
entries' tables into one entry keyed by the shard keys, and hands it downstream as if the stage
had run unsharded. A missing shard is an error that names the command producing it.
"""

from __future__ import annotations

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from int_exp.pipeline.cache import Cache, cache_key, write_outputs
from int_exp.pipeline.plan import plan_keys
from int_exp.pipeline.stage import StageOutput, StageResult


def shard_config(cfg: DictConfig, target: str, index: int, total: int) -> DictConfig:
    shard = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    OmegaConf.update(shard, "data.shard", f"{index}/{total}")
    OmegaConf.update(shard, "data.merge_shards", None)
    OmegaConf.update(shard, "stages", [target])
    return shard


def merge_shards(cfg: DictConfig, stages: dict, target: str, cache: Cache) -> StageResult:
    total = int(cfg.data.merge_shards)
    if cfg.data.shard:
        raise ValueError("data.merge_shards and data.shard are exclusive: merge in a job of its own")
    keys = [plan_keys(shard_config(cfg, target, i, total), stages)[target] for i in range(total)]
    name = stages[target].cache_name  # cache folders keep a renamed stage's old name
    missing = [i for i, key in enumerate(keys) if not cache.is_complete(name, key)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {total} shards of stage {target!r} are not in the cache ({cache.root}): "
            f"run `python run.py stages=[{target}] data.shard=i/{total}` for i in {missing} with this job's "
            "other settings first"
        )
    shards = [StageResult.load(target, key, cache.entry(name, key), cache_hit=True) for key in keys]
    key = cache_key(name, "merge", {"data.merge_shards": total}, {f"shard_{i}": k for i, k in enumerate(keys)})
    if cache.is_complete(name, key):
        return StageResult.load(target, key, cache.entry(name, key), cache_hit=True)
    output = StageOutput(
        tables={table: pd.concat([s.table(table) for s in shards], ignore_index=True) for table in shards[0].table_names},
        metrics={k: sum(s.metrics.get(k, 0.0) for s in shards) for k in shards[0].metrics if k.startswith("funnel/")},
        summary={"merged_shards": keys},
    )
    with cache.lock(name, key), cache.staging(name, key) as staged:
        manifest = write_outputs(output, staged)
        manifest.update(stage=name, version="merge", key=key, config={"data.merge_shards": total},
                        inputs={f"shard_{i}": k for i, k in enumerate(keys)}, seconds=0.0)
        cache.commit(name, key, staged, manifest)
    return StageResult.load(target, key, cache.entry(name, key), cache_hit=False)
