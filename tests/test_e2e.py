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


def finished_job(workspace, *overrides):
    """The newest finished job run of this config in the module's store, and its stage runs; run
    now only if there is none (the acceptance test reads the int and rl_only jobs of the tests above)."""
    from mlflow import MlflowClient
    from omegaconf import OmegaConf

    from int_exp.tracking import flatten

    cfg = smoke(workspace, *overrides)
    expected = {k: str(v)[:6000] for k, v in flatten(OmegaConf.to_container(cfg, resolve=True)).items()
                if not k.startswith("tracking.")}
    client = MlflowClient(workspace["uri"])
    experiment = client.get_experiment_by_name("e2e")
    query = "attributes.status = 'FINISHED' and tags.run_kind = 'job'"
    for job in client.search_runs([experiment.experiment_id], query, order_by=["attributes.start_time DESC"]) \
            if experiment else []:
        if all(job.data.params.get(k) == v for k, v in expected.items()):
            stages = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{job.info.run_id}'")
            return client, job, {s.data.tags["stage"]: s for s in stages}
    run_job(cfg)
    return last_job(workspace)


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


INT_JOB = ("stages=[sft,sft_eval,rl,eval]",)  # the SFT checkpoint evaluated too
RL_ONLY_JOB = ("variant=rl_only", "rl.problems=unsolved")
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
    run_job(smoke(workspace, *INT_JOB))
    client, job, stages = last_job(workspace)
    assert job.info.status == "FINISHED"
    assert {"sft", "rl", "eval"} <= set(stages)
    metrics = job.data.metrics
    assert metrics["sft/examples"] == metrics["funnel/kept"] > 0
    assert metrics["sft/train_loss"] > 0 and metrics["sft/entropy"] > 0
    assert "rl/mean_frac_reward_zero_std" in metrics and 0 <= metrics["rl/mean_frac_reward_zero_std"] <= 1
    assert "arith/pass_at_1" in metrics
    sft_run = stages["sft"]
    assert client.list_artifacts(sft_run.info.run_id) == []  # a local store: the checkpoint stays in the cache
    assert sft_run.data.tags["model_id"].startswith("m-")  # ... and is an MLflow model pointing there
    assert client.get_metric_history(sft_run.info.run_id, "sft/loss")  # the training curve
    # lineage: eval used the RL checkpoint, which started from the SFT checkpoint
    manifest = {name: json.loads((Path(stages[name].data.tags["cache_dir"]) / "manifest.json").read_text())
                for name in ("rl", "eval")}
    assert manifest["eval"]["inputs"]["policy"] == stages["rl"].data.tags["cache_key"]
    assert manifest["rl"]["inputs"]["policy"] == stages["sft"].data.tags["cache_key"]


def test_rl_on_unsolved_problems_trains_on_the_rollouts_hard_set(workspace):
    run_job(smoke(workspace, *RL_ONLY_JOB))
    _, job, stages = last_job(workspace)
    metrics = job.data.metrics
    # a random model solves nothing: every training problem is in the hard set
    assert metrics["rl/problems"] == metrics["funnel/problems_unsolved"] == 6
    manifest = json.loads((Path(stages["rl"].data.tags["cache_dir"]) / "manifest.json").read_text())
    assert manifest["inputs"]["problems"] == stages["rollouts"].data.tags["cache_key"]


def test_checkpoints_are_mlflow_models_ranked_registered_and_usable_as_a_starting_model(workspace, tmp_path):
    """Issue 31's acceptance, on the two variant jobs above (cache hits here): a LoggedModel per SFT
    and RL checkpoint with params, tags and linked pass@k; ranked by pass@1 as the jobs' metrics;
    registered by the report; a job from ``models:/NAME/1`` evaluates the same weights."""
    import mlflow

    from int_exp.report import main as report
    from int_exp.tracking.models import folder_digest

    jobs = {}
    for overrides in (INT_JOB, RL_ONLY_JOB):
        client, job, stages = finished_job(workspace, *overrides)
        jobs[job.data.tags["variant"]] = (job, stages)
    experiment_id = job.info.experiment_id
    checkpoints = {}  # model id -> the job metric its linked pass@1 must equal
    for variant, stage, metric in (("int", "sft", "sft_eval/arith/pass_at_1"), ("int", "rl", "arith/pass_at_1"),
                                   ("rl_only", "rl", "arith/pass_at_1")):
        job, stages = jobs[variant]
        model = client.get_logged_model(stages[stage].data.tags["model_id"])
        assert model.name == f"{variant}-{stage}" and model.source_run_id is not None
        assert model.tags["cache_key"] == stages[stage].data.tags["cache_key"]
        assert (model.tags["stage"], model.tags["variant"], model.tags["seed"]) == (stage, variant, "0")
        assert model.params[f"{stage}.learning_rate"] == job.data.params[f"{stage}.learning_rate"]
        assert model.tags["files"] == "local" and model.tags["checkpoint"] == stages[stage].data.tags["checkpoint"]
        linked = {m.key: m for m in model.metrics}
        assert linked["arith/pass_at_1"].value == job.data.metrics[metric]
        assert linked["arith/pass_at_1"].dataset_name == "arith" and linked["arith/pass_at_1"].dataset_digest
        checkpoints[model.model_id] = job.data.metrics[metric]
    mlflow.set_tracking_uri(workspace["uri"])
    ranked = [m for m in mlflow.search_logged_models(
        experiment_ids=[experiment_id], output_format="list",
        order_by=[{"field_name": "metrics.arith/pass_at_1", "ascending": False}]) if m.model_id in checkpoints]
    assert [m.metrics[0].value if len(m.metrics) == 1 else {x.key: x.value for x in m.metrics}["arith/pass_at_1"]
            for m in ranked] == sorted(checkpoints.values(), reverse=True)
    assert {m.model_id for m in ranked} == set(checkpoints)

    argv = ["--uri", workspace["uri"], "--experiment", "e2e", "--out", str(tmp_path / "report"), "--bootstrap", "50"]
    assert client.search_registered_models() == []  # the report alone writes nothing
    report(argv)
    assert client.search_registered_models() == []
    assert report([*argv, "--register", "int-sandbox"]) == 0
    assert report([*argv, "--register", "int-sandbox"]) == 0  # a new version each time
    versions = client.search_model_versions("name = 'int-sandbox'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    first = client.get_model_version("int-sandbox", "1")
    assert first.tags["report_interval"].count("[") == 1 and first.tags["report_metric"] == "arith pass@1 %"
    registered = client.get_logged_model(first.source.removeprefix("models:/"))

    run_job(smoke(workspace, "stages=[eval]", "model.name_or_path=models:/int-sandbox/1", "eval.n=1", "eval.k=[1]"))
    _, started, stages = last_job(workspace)
    assert started.info.status == "FINISHED" and started.data.tags["model_uri"] == "models:/int-sandbox/1"
    for run in (started, stages["model"]):  # the model is the input of the job and of its model stage
        assert [m.model_id for m in client.get_run(run.info.run_id).inputs.model_inputs] == [registered.model_id]
    evaluated = Path(stages["model"].data.tags["checkpoint"])
    assert folder_digest(evaluated, workspace["cache"]) == registered.tags["digest"]  # the same weights
    assert started.data.tags["evaluated_model_id"] == registered.model_id  # its pass@1 joins that model's


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
