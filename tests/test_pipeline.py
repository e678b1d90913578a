"""The runner and cache: keys, hits, misses, resume after a crash, concurrent jobs, restricted config."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from int_exp.pipeline.cache import Cache, cache_key
from int_exp.pipeline.plan import execution_order, make_plan
from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import MANIFEST, Stage, StageOutput
from int_exp.tracking import NullTracker

CALLS: list[str] = []


def numbers_stage(ctx):
    CALLS.append("numbers")
    return StageOutput(tables={"main": pd.DataFrame({"x": list(range(ctx.cfg.source.size))})},
                       metrics={"funnel/numbers": ctx.cfg.source.size})


def squares_stage(ctx):
    CALLS.append("squares")
    if ctx.cfg.square.crash:
        raise RuntimeError("simulated crash")
    table = ctx.inputs["numbers"].table()
    (ctx.out_dir / "note.txt").write_text("squares")
    return StageOutput(tables={"main": table.assign(y=table["x"] ** ctx.cfg.square.power)}, files=["note.txt"])


def sneaky_stage(ctx):
    return StageOutput(metrics={"value": ctx.cfg.square.power})  # reads a key it did not declare


STAGES = {
    "numbers": Stage("numbers", "1", ["source.size"], {}, numbers_stage),
    "squares": Stage("squares", "1", ["square.power", "square.crash"], {"numbers": "numbers"}, squares_stage),
    "sneaky": Stage("sneaky", "1", ["source.size"], {}, sneaky_stage),
}


def make_cfg(tmp_path: Path, **overrides):
    cfg = OmegaConf.create({
        "stages": ["squares"],
        "paths": {"cache_dir": str(tmp_path / "cache")},
        "source": {"size": 4},
        "square": {"power": 2, "crash": False},
        "sft": {"enabled": True},
        "rl": {"enabled": True},
        "variant": {"name": "test"},
        "backend": {"name": "hf"},
    })
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def run(cfg):
    return Runner(cfg, NullTracker(), STAGES).run()


def test_first_run_computes_second_run_hits(tmp_path):
    CALLS.clear()
    first = run(make_cfg(tmp_path))
    assert CALLS == ["numbers", "squares"]
    assert not first["squares"].cache_hit
    assert list(first["squares"].table()["y"]) == [0, 1, 4, 9]
    assert first["squares"].files[0].read_text() == "squares"

    CALLS.clear()
    second = run(make_cfg(tmp_path))
    assert CALLS == []
    assert second["numbers"].cache_hit and second["squares"].cache_hit
    assert second["squares"].key == first["squares"].key


def test_changing_a_downstream_key_recomputes_only_downstream(tmp_path):
    run(make_cfg(tmp_path))
    CALLS.clear()
    results = run(make_cfg(tmp_path, **{"square.power": 3}))
    assert CALLS == ["squares"]
    assert results["numbers"].cache_hit and not results["squares"].cache_hit
    assert list(results["squares"].table()["y"]) == [0, 1, 8, 27]


def test_changing_an_upstream_key_changes_every_downstream_key(tmp_path):
    a = run(make_cfg(tmp_path))
    b = run(make_cfg(tmp_path, **{"source.size": 5}))
    assert a["numbers"].key != b["numbers"].key and a["squares"].key != b["squares"].key


def test_crash_leaves_no_entry_and_rerun_resumes_at_the_failed_stage(tmp_path):
    CALLS.clear()
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(make_cfg(tmp_path, **{"square.crash": True}))
    assert CALLS == ["numbers", "squares"]
    squares_dir = tmp_path / "cache" / "squares"
    assert not any((p / MANIFEST).exists() for p in squares_dir.iterdir() if p.is_dir())
    assert not any(p.name.endswith(".tmp") for p in squares_dir.iterdir())  # staging cleaned up

    CALLS.clear()
    # Same key material except the crash switch: numbers is reused, squares computed.
    results = run(make_cfg(tmp_path))
    assert CALLS == ["squares"]
    assert results["numbers"].cache_hit


def test_entry_without_manifest_is_not_a_hit(tmp_path):
    results = run(make_cfg(tmp_path))
    entry = results["squares"].dir
    (entry / MANIFEST).unlink()  # as if the process died between writing files and the manifest
    CALLS.clear()
    again = run(make_cfg(tmp_path))
    assert CALLS == ["squares"] and not again["squares"].cache_hit
    assert (entry / MANIFEST).exists()


def test_manifest_records_key_material_and_table_digest(tmp_path):
    result = run(make_cfg(tmp_path))["squares"]
    manifest = json.loads((result.dir / MANIFEST).read_text())
    assert manifest["config"] == {"square.crash": False, "square.power": 2}
    assert manifest["inputs"] == {"numbers": result.manifest["inputs"]["numbers"]}
    assert manifest["tables"]["main"]["rows"] == 4 and len(manifest["tables"]["main"]["digest"]) == 16
    assert result.key == cache_key("squares", "1", manifest["config"], manifest["inputs"])


def test_stage_cannot_read_undeclared_config(tmp_path):
    cfg = make_cfg(tmp_path, stages=["sneaky"])
    with pytest.raises(Exception, match="square"):
        run(cfg)


def _concurrent_job(cache_dir: str, queue) -> None:
    try:
        cfg = make_cfg(Path(cache_dir).parent)
        results = Runner(cfg, NullTracker(), STAGES).run()
        queue.put((results["squares"].cache_hit, results["squares"].key))
    except BaseException:  # report, so the test shows the child's failure
        import traceback

        queue.put(("error", traceback.format_exc()))
        raise


def test_concurrent_jobs_compute_once_and_agree(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    jobs = [ctx.Process(target=_concurrent_job, args=(str(tmp_path / "cache"), queue)) for _ in range(3)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(120)
    outcomes = [queue.get(timeout=5) for _ in jobs]
    errors = [detail for status, detail in outcomes if status == "error"]
    assert not errors, errors[0]
    assert len({key for _, key in outcomes}) == 1
    assert sum(not hit for hit, _ in outcomes) == 1  # exactly one job computed, the others waited and reused
    entries = [p for p in (tmp_path / "cache" / "squares").iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / MANIFEST).exists()


def test_commit_keeps_an_existing_complete_entry(tmp_path):
    cache = Cache(tmp_path)
    for content in ("first", "second"):
        with cache.staging("s", "k") as staged:
            (staged / "data.txt").write_text(content)
            final = cache.commit("s", "k", staged, {"content": content})
    assert (final / "data.txt").read_text() == "first"


def test_plan_runs_training_stages_only_when_listed_and_enabled(tmp_path):
    from int_exp.stages import STAGES as real

    def order(stages, sft=True, rl=True, data="interventions", filt=True, rl_problems="all"):
        cfg = OmegaConf.create({"stages": stages, "sft": {"enabled": sft, "data": data},
                                "rl": {"enabled": rl, "problems": rl_problems},
                                "variant": {"name": "t"}, "intervention": {"correctness_filter": filt, "proposer": "self"}})
        return execution_order(cfg, make_plan(cfg, real), real)

    assert order(["eval"]) == ["model", "eval"]
    assert order(["sft", "rl", "eval"], sft=False, rl=False) == ["model", "eval"]
    assert order(["sft", "rl", "eval"], sft=False)[-3:] == ["problems", "rl", "eval"]
    assert order(["rl"], sft=False, rl_problems="unsolved")[-2:] == ["rollouts", "rl"]  # the hard set
    full = order(["sft", "rl", "eval"])
    assert full.index("continuations") < full.index("correctness_filter") < full.index("sft") < full.index("rl")
    assert "continuations" not in order(["sft"], filt=False)
    assert "reflect" in order(["sft"], data="reflection")
    assert order(["correctness_filter"])[-1] == "correctness_filter" and "sft" not in order(["correctness_filter"])
    with pytest.raises(ValueError, match="unknown stage"):
        order(["evaluate"])


def test_a_new_training_stage_is_planned_from_its_declaration_alone():
    """A DPO-like stage between sft and eval: declared, not named anywhere in pipeline/."""
    from int_exp.pipeline.stage import StageOutput as Out

    def nothing(ctx):
        return Out()

    def policy_input(name):
        return lambda cfg, plan: {"policy": plan.policy_before(name)}

    stages = {
        "model": Stage("model", "1", [], {}, nothing, tables=(), policy=True),
        "sft": Stage("sft", "1", [], policy_input("sft"), nothing, tables=(), policy=True, trains="sft"),
        "dpo": Stage("dpo", "1", [], policy_input("dpo"), nothing, tables=(), policy=True, trains="dpo"),
        "eval": Stage("eval", "1", [], policy_input("eval"), nothing, tables=()),
    }

    def plan_for(dpo_enabled, targets):
        cfg = OmegaConf.create({"stages": targets, "variant": {"name": "v"}, "sft": {"enabled": True},
                                "dpo": {"enabled": dpo_enabled}})
        plan = make_plan(cfg, stages)
        return plan, execution_order(cfg, plan, stages)

    plan, order = plan_for(True, ["sft", "dpo", "eval"])
    assert plan.policy_before("eval") == "dpo" and plan.policy_before("dpo") == "sft"
    assert order == ["model", "sft", "dpo", "eval"]
    plan, order = plan_for(False, ["sft", "dpo", "eval"])  # the variant switches dpo off
    assert plan.skipped == ("dpo",) and plan.policy_before("eval") == "sft" and order == ["model", "sft", "eval"]
    plan, order = plan_for(True, ["eval"])  # training stages run only when targeted
    assert plan.policy_before("eval") == "model" and order == ["model", "eval"]


def test_old_stage_names_are_read_as_the_new_ones():
    from int_exp.pipeline.plan import canonical_targets
    from int_exp.stages import STAGES as real

    assert canonical_targets(["guided_rollouts", "sft"], real) == ("correctness_filter", "sft")
    assert real["continuations"].cache_name == "guided_sampling" and real["sft"].cache_name == "sft"


def test_sft_eval_measures_the_sft_checkpoint_and_is_skipped_without_sft():
    """The opt-in sft_eval stage evaluates sft's model; variants without SFT skip it."""
    from hydra import compose, initialize_config_dir

    from int_exp.stages import STAGES as real
    from tests.test_configs import CONF

    def planned(*overrides):
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
            cfg = compose("config", overrides=["experiment=smoke", "stages=[sft,sft_eval,rl,eval]", *overrides])
        plan = make_plan(cfg, real)
        return plan, execution_order(cfg, plan, real), cfg

    plan, order, cfg = planned("variant=int")
    assert order.index("sft") < order.index("sft_eval") < order.index("rl") < order.index("eval")
    assert real["sft_eval"].input_map(cfg, plan) == {"policy": "sft"}
    assert plan.policy_before("rl") == "sft" and plan.policy_before("eval") == "rl"
    plan, order, _ = planned("variant=rl_only")
    assert "sft_eval" in plan.skipped and "sft_eval" not in order and "sft" not in order
