"""End-to-end jobs on the tiny model: eval, the intervention chain, training, read back from MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from int_exp.cli import run_job
from int_exp.pipeline.stage import EmptyStageError
from tests.test_configs import CONF


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, device):
    """One cache and one MLflow store for the module: the tiny model is built once."""
    return workspace_at(tmp_path_factory.mktemp("e2e"), device)


def workspace_at(root: Path, device: str) -> dict:
    """A cache and an MLflow store under ``root``. Sampling runs on the ``device`` fixture's device;
    training where TRL puts it (the GPU where there is one) unless that device is the CPU."""
    from int_exp.runtime.hardware import cuda_available

    on_device = [f"backend.device={device}"]
    if device == "cpu" and cuda_available():
        on_device += ["++sft.trainer_kwargs.use_cpu=true", "++rl.trainer_kwargs.use_cpu=true"]
    return {"cache": root / "cache", "uri": f"sqlite:///{root}/mlflow.db", "artifacts": root / "artifacts",
            "device": on_device}


def smoke(workspace, *overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=[
            "experiment=smoke", f"paths.cache_dir={workspace['cache']}", f"tracking.uri={workspace['uri']}",
            f"tracking.artifact_root={workspace['artifacts']}", "tracking.experiment=e2e", *workspace.get("device", []),
            *overrides,
        ])
    return cfg


def last_job(workspace):
    """The newest job run and its stage runs, from MLflow."""
    from mlflow import MlflowClient

    client = MlflowClient(workspace["uri"])
    experiment = client.get_experiment_by_name("e2e")
    jobs = [r for r in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
            if "stage" not in r.data.tags]
    job = jobs[0]
    stages = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{job.info.run_id}'")
    return client, job, {s.data.tags["stage"]: s for s in stages}


def test_eval_job_logs_pass_at_k_config_dataset_and_plot_then_hits_the_cache(workspace):
    run_job(smoke(workspace, "stages=[eval]"))
    client, job, stages = last_job(workspace)
    assert job.info.status == "FINISHED"
    assert set(stages) == {"model", "eval"}
    for key in ("arith/pass_at_1", "arith/pass_at_4", "arith/accuracy"):
        assert 0.0 <= job.data.metrics[key] <= 1.0
    assert job.data.metrics["arith/problems"] == 6
    assert job.data.params["eval.n"] == "4" and job.data.params["model.name_or_path"] == "builtin:tiny"
    job_artifacts = [a.path for a in client.list_artifacts(job.info.run_id)]
    assert "config.yaml" in job_artifacts and "pass_at_k.png" in job_artifacts  # the plot on the job run too
    evaluation = stages["eval"]
    assert [d.dataset.name for d in evaluation.inputs.dataset_inputs] == ["eval/arith"]
    assert "pass_at_k.png" in [a.path for a in client.list_artifacts(evaluation.info.run_id)]
    assert evaluation.data.tags["cache_hit"] == "false"

    run_job(smoke(workspace, "stages=[eval]"))
    _, again, stages = last_job(workspace)
    assert {s: r.data.tags["cache_hit"] for s, r in stages.items()} == {"model": "true", "eval": "true"}
    assert again.data.metrics["arith/pass_at_1"] == job.data.metrics["arith/pass_at_1"]


CHAIN = ["problems", "rollouts", "failures", "propose", "parse", "continuations", "correctness_filter"]


def test_intervention_chain_funnel_then_min_correct_recomputes_only_the_filter(workspace):
    run_job(smoke(workspace, "stages=[correctness_filter]"))
    client, job, stages = last_job(workspace)
    metrics = job.data.metrics
    assert metrics["funnel/problems"] == 6 and metrics["funnel/rollouts"] == 12
    assert metrics["funnel/incorrect"] == 12  # a random model solves nothing
    assert metrics["funnel/proposals"] == 12
    assert metrics["funnel/parsed"] >= metrics["funnel/deduplicated"] >= metrics["funnel/kept"] > 0
    assert metrics["funnel/copied_prompt"] == 0  # the oracle writes real steps
    assert metrics["funnel/parsed"] == metrics["funnel/leaked"] + metrics["funnel/deduplicated"]
    kept = stages["correctness_filter"]
    assert "sample_interventions.md" in [a.path for a in client.list_artifacts(kept.info.run_id)]
    for name in CHAIN:
        assert stages[name].inputs.dataset_inputs, f"{name} logged no table"

    run_job(smoke(workspace, "stages=[correctness_filter]"))
    _, _, stages = last_job(workspace)
    assert all(stages[name].data.tags["cache_hit"] == "true" for name in CHAIN)

    with pytest.raises(EmptyStageError, match="emptied at 'kept'"):
        run_job(smoke(workspace, "stages=[sft]", "intervention.min_correct=1"))
    _, failed, stages = last_job(workspace)
    assert failed.info.status == "FAILED" and "emptied at 'kept'" in failed.data.tags["error"]
    hits = {name: stages[name].data.tags["cache_hit"] for name in CHAIN}
    assert hits.pop("correctness_filter") == "false"
    assert set(hits.values()) == {"true"}  # only the filtering step was recomputed


def test_full_int_job_trains_and_evaluates(workspace):
    run_job(smoke(workspace))
    client, job, stages = last_job(workspace)
    assert job.info.status == "FINISHED"
    assert {"sft", "rl", "eval"} <= set(stages)
    metrics = job.data.metrics
    assert metrics["sft/examples"] == metrics["funnel/kept"] > 0
    assert metrics["sft/train_loss"] > 0 and metrics["sft/entropy"] > 0
    assert "rl/mean_frac_reward_zero_std" in metrics and 0 <= metrics["rl/mean_frac_reward_zero_std"] <= 1
    assert "arith/pass_at_1" in metrics
    sft_run = stages["sft"]
    assert [a.path for a in client.list_artifacts(sft_run.info.run_id)] == ["checkpoint"]
    assert client.get_metric_history(sft_run.info.run_id, "sft/loss")  # the training curve
    # lineage: eval used the RL checkpoint, which started from the SFT checkpoint
    manifest = {name: json.loads((Path(stages[name].data.tags["cache_dir"]) / "manifest.json").read_text())
                for name in ("rl", "eval")}
    assert manifest["eval"]["inputs"]["policy"] == stages["rl"].data.tags["cache_key"]
    assert manifest["rl"]["inputs"]["policy"] == stages["sft"].data.tags["cache_key"]


def test_rl_on_unsolved_problems_trains_on_the_rollouts_hard_set(workspace):
    run_job(smoke(workspace, "variant=rl_only", "rl.problems=unsolved"))
    _, job, stages = last_job(workspace)
    metrics = job.data.metrics
    # a random model solves nothing: every training problem is in the hard set
    assert metrics["rl/problems"] == metrics["funnel/problems_unsolved"] == 6
    manifest = json.loads((Path(stages["rl"].data.tags["cache_dir"]) / "manifest.json").read_text())
    assert manifest["inputs"]["problems"] == stages["rollouts"].data.tags["cache_key"]


def test_prompts_that_do_not_fit_the_context_are_skipped_and_counted_in_every_stage(workspace):
    """Problems of 1 to 8 operations and a context that only the shorter ones fit: each sampling
    stage skips the prompts that fill it and RL those without room for its completions, counted."""
    from int_exp.backends.hf import encode_chats
    from int_exp.models import load_tokenizer
    from int_exp.stages.common import problem_chat

    context, completion = 72, 16  # the 12 prompts have 53 to 83 tokens
    cfg = smoke(workspace, "variant=rl_only", "rl.problems=unsolved", f"model.max_context={context}",
                "data.limit=12", "data.arith.min_steps=1", "data.arith.max_steps=8", "stages=[rl,eval]",
                f"rl.max_completion_length={completion}")
    run_job(cfg)
    _, job, stages = last_job(workspace)
    metrics = job.data.metrics

    def lengths(stage: str, table: str = "main"):
        frame = pd.read_parquet(Path(stages[stage].data.tags["cache_dir"]) / f"{table}.parquet")
        tokenizer = load_tokenizer(str(Path(stages["model"].data.tags["cache_dir"]) / "model"))
        chats = [problem_chat(p, cfg.data.prompt_template) for p in frame["problem"]]
        return [len(ids) for ids in encode_chats(tokenizer, chats)]

    problems = lengths("problems")
    assert 0 < sum(n >= context for n in problems) < len(problems)  # some fill the context, some do not
    assert metrics["rollouts/prompts_too_long"] == sum(n >= context for n in problems)
    assert max(lengths("rollouts")) < context and len(lengths("rollouts")) == len(problems) - sum(
        n >= context for n in problems)
    sampled = lengths("rollouts")
    assert metrics["rl/prompts_too_long"] == sum(n + completion > context for n in sampled)
    assert metrics["rl/problems"] == sum(n + completion <= context for n in sampled)
    name = cfg.data.eval[0].name
    assert metrics[f"{name}/prompts_too_long"] > 0
    assert metrics[f"{name}/problems"] + metrics[f"{name}/prompts_too_long"] == 12
    with pytest.raises(EmptyStageError, match="fills the context"):  # nothing left to score is an error
        run_job(smoke(workspace, "variant=base", "stages=[eval]", "model.max_context=20"))
