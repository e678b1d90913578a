"""Real Hydra multiruns of run.py: cache reuse across jobs, Optuna studies, submitit, MLflow nesting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_configs import ROOT


def multirun(tmp_path, *overrides: str, name: str = "sweep", check: bool = True, timeout: int = 900):
    """`python run.py -m ...` with every output (cache, MLflow, sweep folder, study) under tmp_path."""
    cmd = [sys.executable, "run.py", "-m", *overrides,
           f"paths.cache_dir={tmp_path / 'cache'}", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
           f"tracking.artifact_root={tmp_path / 'artifacts'}", f"hydra.sweep.dir={tmp_path / name}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    return out


def sweep_runs(tmp_path, experiment: str):
    """{sweep parent run: [its job runs]} from MLflow."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("sweep") == "true"]
    children = {p.info.run_id: [r for r in runs if r.data.tags.get("mlflow.parentRunId") == p.info.run_id]
                for p in parents}
    return client, parents, children, runs


def test_a_variant_sweep_reuses_the_data_stages_and_reads_back_by_name(tmp_path):
    """Two variants that differ only in SFT (suffix cloning): the second job's data stages are
    cache hits, and MLflow shows job runs named by variant, stage runs by stage, a sweep parent."""
    out = multirun(tmp_path, "experiment=smoke", "variant=int_with_suffix,int")
    assert "| int |" in out.stdout and "| int_with_suffix |" in out.stdout
    client, parents, children, runs = sweep_runs(tmp_path, "smoke")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    jobs = sorted(children[parents[0].info.run_id], key=lambda r: int(r.data.tags["job_num"]))
    assert [j.data.params["sft.clone_suffix"] for j in jobs] == ["True", "False"]
    assert all(j.info.status == "FINISHED" for j in jobs)
    second = {r.data.tags["stage"]: r.data.tags["cache_hit"] for r in runs
              if r.data.tags.get("mlflow.parentRunId") == jobs[1].info.run_id}
    data_stages = ["model", "problems", "rollouts", "failures", "propose", "parse", "continuations", "correctness_filter"]
    assert {s: second[s] for s in data_stages} == {s: "true" for s in data_stages}
    assert {s: second[s] for s in ("sft", "rl", "eval")} == {"sft": "false", "rl": "false", "eval": "false"}
    assert "report" in [a.path for a in client.list_artifacts(parents[0].info.run_id)]
    # names a person can read: the job by what sets it apart, the stage by its name, the parent as a sweep
    assert [j.info.run_name for j in jobs] == ["int_with_suffix", "int"]  # no two alike, no random names
    assert parents[0].info.run_name.startswith("smoke: variant sweep 20")
    stage_names = {r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == jobs[0].info.run_id}
    assert stage_names == set(data_stages) | {"sft", "rl", "eval"}
    assert all(r.data.tags.get("mlflow.note.content") for r in runs)
    kinds = {r.info.run_id: r.data.tags.get("run_kind") for r in runs}
    assert sorted(kinds[j.info.run_id] for j in jobs) == ["job", "job"] and kinds[parents[0].info.run_id] == "sweep"
    assert {k for r, k in kinds.items() if r not in {j.info.run_id for j in jobs} | {parents[0].info.run_id}} == {"stage"}
    listed = client.search_runs([parents[0].info.experiment_id], "tags.run_kind = 'job'")
    assert {r.info.run_id for r in listed} == {j.info.run_id for j in jobs}  # the README's filter


@pytest.mark.slow  # ~30-60 s of real trials; tests/test_optuna_sweeper.py covers the sweeper fast
def test_optuna_study_resumes_and_mlflow_nests_trials_under_one_parent(tmp_path):
    study = [f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db", "hparams_search=sft_optuna", "experiment=smoke"]
    multirun(tmp_path, *study, "hydra.sweeper.n_trials=2", name="study1")  # a 2-trial study
    multirun(tmp_path, *study, "hydra.sweeper.n_trials=3", name="study2")  # resumed: one more trial

    import optuna

    summaries = optuna.get_all_study_summaries(f"sqlite:///{tmp_path}/optuna.db")
    assert len(summaries) == 1 and summaries[0].n_trials == 3
    assert summaries[0].study_name.startswith("sft_optuna-smoke-")  # named after the search
    trials = optuna.load_study(study_name=summaries[0].study_name, storage=f"sqlite:///{tmp_path}/optuna.db").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3

    _, parents, children, _ = sweep_runs(tmp_path, "smoke")
    parents = sorted(parents, key=lambda p: p.info.start_time)
    assert [len(children[p.info.run_id]) for p in parents] == [2, 1]
    trial_numbers = [sorted(int(c.data.params["trial_number"]) for c in children[p.info.run_id]) for p in parents]
    assert trial_numbers == [[0, 1], [2]]
    names = sorted(c.info.run_name for p in parents for c in children[p.info.run_id])
    assert names == [f"trial-{n}" for n in range(3)]  # no random names, no collisions
    for parent in parents:
        assert parent.info.status == "FINISHED"
        assert "best_value" in parent.data.metrics and "best.sft.learning_rate" in parent.data.params
        for child in children[parent.info.run_id]:
            assert "arith/pass_at_1" in child.data.metrics and "override.sft.learning_rate" in child.data.params
    runs_by_trial = {int(c.data.params["trial_number"]): c.info.run_id for p in parents for c in children[p.info.run_id]}
    assert {t.number: t.user_attrs["mlflow_run_id"] for t in trials} == runs_by_trial  # each trial knows its run
    client = sweep_runs(tmp_path, "smoke")[0]
    for parent in parents:  # the study's plots on each sweep's parent run
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "optuna")}
        assert {"optuna/optimization_history.png", "optuna/parallel_coordinate.png",
                "optuna/param_importances.png"} <= plots
        assert parent.data.tags["study_name"] == summaries[0].study_name
    best = max(t.value for t in trials[2:])
    assert parents[1].data.metrics["best_value"] == pytest.approx(max(best, max(t.value for t in trials[:2])))


@pytest.mark.slow  # ~30-60 s of real trials; tests/test_optuna_sweeper.py covers the sweeper fast
def test_a_refused_trial_fails_in_optuna_leaves_no_mlflow_run_and_the_sweep_continues(tmp_path):
    # epochs=0 is refused by the settings checks before any run exists: that trial raises; the others run.
    study = [f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db", "hparams_search=sft_optuna", "experiment=smoke",
             "hydra.sweeper.n_trials=3", "hydra.sweeper.max_failure_rate=0.5", "hydra.sweeper.sampler.seed=1",
             "sft.epochs=choice(0,1)", "sft.learning_rate=1e-4"]
    multirun(tmp_path, *study)
    import optuna

    summary = optuna.get_all_study_summaries(f"sqlite:///{tmp_path}/optuna.db")[0]
    trials = optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{tmp_path}/optuna.db").trials
    states = {t.number: (t.state.name, t.params["sft.epochs"]) for t in trials}
    assert {s for s, epochs in states.values() if epochs == 0} == {"FAIL"}
    assert {s for s, epochs in states.values() if epochs == 1} <= {"COMPLETE"}
    _, parents, children, _ = sweep_runs(tmp_path, "smoke")
    status = {int(c.data.params["trial_number"]): c.info.status for c in children[parents[0].info.run_id]}
    assert status == {n: "FINISHED" for n, (_, epochs) in states.items() if epochs == 1}


@pytest.mark.slow
def test_sweep_through_the_submitit_local_launcher(tmp_path):
    multirun(tmp_path, "hydra/launcher=local", "experiment=smoke", "stages=[eval]", "eval.n=2", "eval.k=[1,2]",
             "sampling.seed=0,1")
    _, parents, children, _ = sweep_runs(tmp_path, "smoke")
    jobs = children[parents[0].info.run_id]
    assert len(jobs) == 2 and {j.info.status for j in jobs} == {"FINISHED"}
    assert {j.data.params["sampling.seed"] for j in jobs} == {"0", "1"}


@pytest.mark.slow
def test_every_variant_runs_and_the_report_has_a_row_per_variant(tmp_path):
    variants = ["base", "rl_only", "int", "int_no_prefix", "int_with_suffix", "int_no_filter", "sft_ref",
                "sft_reflect", "hint_rl"]
    out = multirun(tmp_path, "experiment=smoke", "variant=" + ",".join(variants))
    for variant in variants:
        assert f"| {variant} |" in out.stdout, out.stdout[-3000:]
