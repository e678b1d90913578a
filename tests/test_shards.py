"""Sharding a long stage over jobs (a SLURM array) and merging the shards for training."""

from __future__ import annotations

import pytest

from int_exp.pipeline.runner import Runner
from int_exp.stages import STAGES
from int_exp.tracking import NullTracker
from tests.test_e2e import smoke


def job(cache, *overrides):
    cfg = smoke({"cache": cache, "uri": "", "artifacts": cache, "device": []}, "tracking.enabled=false", *overrides)
    return Runner(cfg, NullTracker(), STAGES).run()


def test_shards_split_the_problems_and_merge_back(tmp_path):
    # the old stage name is still read (the shard jobs use it, the merging job the new one)
    shards = [job(tmp_path, "stages=[guided_rollouts]", f"data.shard={i}/2") for i in range(2)]
    problems = [set(s["problems"].table()["problem_id"]) for s in shards]
    assert problems[0] and problems[1] and not problems[0] & problems[1]
    assert len(problems[0] | problems[1]) == 6

    merged = job(tmp_path, "stages=[correctness_filter]", "data.merge_shards=2")
    assert set(merged) == {"correctness_filter"}  # the sharded chain is not re-run
    table = merged["correctness_filter"].table()
    parts = [s["correctness_filter"].table() for s in shards]
    assert sorted(table["attempt_id"]) == sorted(list(parts[0]["attempt_id"]) + list(parts[1]["attempt_id"]))
    assert merged["correctness_filter"].metrics["funnel/kept"] == len(table)

    again = job(tmp_path, "stages=[correctness_filter]", "data.merge_shards=2")
    assert again["correctness_filter"].cache_hit and again["correctness_filter"].key == merged["correctness_filter"].key

    trained = job(tmp_path, "stages=[sft]", "data.merge_shards=2")
    assert trained["sft"].metrics["sft/examples"] == len(table)


def test_a_missing_shard_names_the_command_that_makes_it(tmp_path):
    job(tmp_path, "stages=[correctness_filter]", "data.shard=0/3")
    with pytest.raises(FileNotFoundError, match=r"2 of 3 shards .*data.shard=i/3.* for i in \[1, 2\]"):
        job(tmp_path, "stages=[correctness_filter]", "data.merge_shards=3")
