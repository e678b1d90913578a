"""The comparison report on a real MLflow store: intervals, paired differences, seeds pooled, read-only."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from int_exp.report import main, write_report

RATES = np.random.default_rng(0).beta(1, 2, size=200)  # one population of problems for every variant


def log_job(client, experiment_id, tmp_path, variant: str, seed: int, gain: float, n: int = 16,
            model_seed: int | None = None) -> str:
    """A finished job run as run.py logs it: tags, overrides, pass@k metrics, per_problem.csv."""
    rng = np.random.default_rng([seed, len(variant), ord(variant[0])])
    correct = rng.binomial(n, np.clip(RATES + gain, 0, 1))
    table = pd.DataFrame({"dataset": "arith", "problem_id": [f"p{i}" for i in range(len(RATES))], "n": n,
                          "correct": correct})
    tags = {"variant": variant, "seed": str(seed), "comparison_group": "g1", "model": "sandbox", "eval_data": "arith"}
    overrides = f"variant={variant} seed={seed}"
    if model_seed is not None:  # a sweep over base models too: run.py's replicate tag
        tags["replicate"] = f"model.sandbox.seed={model_seed} seed={seed}"
        overrides += f" model.sandbox.seed={model_seed}"
    run = client.create_run(experiment_id, run_name=variant, tags=tags)
    client.log_param(run.info.run_id, "overrides", overrides)
    client.log_metric(run.info.run_id, "arith/pass_at_1", float((correct / n).mean()))
    client.log_metric(run.info.run_id, "rl/mean_frac_reward_zero_std", 0.5)
    path = tmp_path / f"{variant}-{seed}-{model_seed}" / "per_problem.csv"
    path.parent.mkdir()
    table.to_csv(path, index=False)
    client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.fixture
def store(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("cmp", artifact_location=str(tmp_path / "artifacts"))
    for seed in (0, 1, 2):
        log_job(client, experiment_id, tmp_path, "rl_only", seed, 0.0)
        log_job(client, experiment_id, tmp_path, "base", seed, -0.01)
        log_job(client, experiment_id, tmp_path, "int", seed, 0.10)
    return uri, client, experiment_id


def test_report_pools_seeds_and_marks_differences_whose_interval_excludes_zero(store, tmp_path):
    uri, client, experiment_id = store
    files, text = write_report(argparse.Namespace(uri=uri, experiment="cmp"), tmp_path / "out", n_boot=500)
    numbers = pd.read_csv(tmp_path / "out" / "comparison_0.csv", index_col=0)
    assert list(numbers.index) == ["base", "rl_only", "int"]
    assert (numbers["seeds"] == 3).all()
    int_row = numbers.loc["int"]
    assert int_row["arith pass@1 vs rl_only (pp)"] == pytest.approx(10, abs=1.5)
    assert int_row["arith pass@1 vs rl_only (pp) low"] > 5  # a 10-point gain on 200 x 16 x 3 seeds
    assert numbers.loc["base", "arith pass@1 vs rl_only (pp) low"] < 0 < numbers.loc["base", "arith pass@1 vs rl_only (pp) high"]
    low, estimate, high = (numbers.loc["rl_only", f"arith pass@1 %{end}"] for end in (" low", "", " high"))
    assert low < estimate < high and estimate == pytest.approx(100 * RATES.mean(), abs=2)
    assert numbers.loc["int", "RL zero-advantage groups %"] == 50
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["int"].count(" *") >= 1 and " *" not in rows["base"].split("|")[5]
    assert {p.name for p in files} == {"report.md", "comparison_0.csv", "pass_at_k_0.png"}
    assert len(client.search_runs([experiment_id])) == 9  # read-only: no report run was added


def test_a_rerun_replaces_the_earlier_run_of_that_variant_and_seed(store, tmp_path):
    uri, client, experiment_id = store
    (tmp_path / "rerun").mkdir()
    log_job(client, experiment_id, tmp_path / "rerun", "int", 0, 0.10)
    write_report(argparse.Namespace(uri=uri, experiment="cmp"), tmp_path / "out", n_boot=200)
    numbers = pd.read_csv(tmp_path / "out" / "comparison_0.csv", index_col=0)
    assert numbers.loc["int", "seeds"] == 3


def test_cli_is_read_only_unless_asked_to_log(store, tmp_path, capsys):
    uri, client, experiment_id = store
    main(["--tracking-uri", uri, "--experiment", "cmp", "--out", str(tmp_path / "cli"), "--bootstrap", "200"])
    assert "| int |" in capsys.readouterr().out
    assert len(client.search_runs([experiment_id])) == 9
    main(["--tracking-uri", uri, "--experiment", "cmp", "--out", str(tmp_path / "cli"), "--bootstrap", "200", "--log"])
    assert len(client.search_runs([experiment_id])) == 10


def test_cli_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--tracking-uri", "--experiment", "--parent-run-id", "--out", "--reference", "--bootstrap", "--log"):
        assert flag in out


def test_base_model_seeds_are_replicates_pooled_and_paired_not_rows(tmp_path):
    """A sweep over model.sandbox.seed x seed: one row per variant with every (model seed, seed)
    pair as a replicate, and the paired difference taken on matching replicates."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("replicates", artifact_location=str(tmp_path / "artifacts"))
    for model_seed in (0, 1):
        for seed in (0, 1):
            for variant, gain in (("rl_only", 0.0), ("int", 0.08)):
                log_job(client, experiment_id, tmp_path, variant, seed, gain, model_seed=model_seed)
    write_report(argparse.Namespace(uri=uri, experiment="replicates"), tmp_path / "out", n_boot=300)
    numbers = pd.read_csv(tmp_path / "out" / "comparison_0.csv", index_col=0)
    assert list(numbers.index) == ["rl_only", "int"]
    assert (numbers["seeds"] == 4).all()
    assert numbers.loc["int", "arith pass@1 vs rl_only (pp) low"] > 0
    assert "replicates model.sandbox.seed=0 seed=0, model.sandbox.seed=0 seed=1" in (tmp_path / "out" / "report.md").read_text()


def test_a_gain_on_one_base_model_of_three_is_no_claim_over_base_models():
    """Replicates of one base model share it: the comparison resamples base models, then run
    seeds, so a gain that only one base model of three shows (the other two lose a little, as
    model 1 did in the 2026-12-05 sandbox sweep) is not separated from 0."""
    from int_exp.report.runs import JobRun
    from int_exp.report.tables import compare

    runs = []
    for model_seed in (0, 1, 2):
        for seed in (0, 1):
            for variant, gain in (("rl_only", 0.0), ("int", 0.2 if model_seed == 0 else -0.02)):
                rng = np.random.default_rng([model_seed, seed, len(variant)])
                correct = rng.binomial(16, np.clip(RATES + gain, 0, 1))
                table = pd.DataFrame({"dataset": "arith", "problem_id": [f"p{i}" for i in range(len(RATES))],
                                      "n": 16, "correct": correct})
                runs.append(JobRun(f"{variant}{model_seed}{seed}", variant, variant,
                                   f"model.sandbox.seed={model_seed} seed={seed}", "g", "sandbox", "arith",
                                   {"arith/pass_at_1": float((correct / 16).mean())}, table))
    int_row = compare(runs, n_boot=1000).numbers.loc["int"]
    assert int_row["seeds"] == 6
    assert int_row["arith pass@1 vs rl_only (pp)"] == pytest.approx(16 / 3, abs=1.5)
    assert int_row["arith pass@1 vs rl_only (pp) low"] < 0 < int_row["arith pass@1 vs rl_only (pp) high"]


def test_the_replicate_tag_names_the_sandbox_seed_and_the_group_ignores_it():
    from hydra import compose, initialize_config_dir

    from int_exp.cli import comparison_group, job_tags
    from tests.test_configs import CONF

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        one = compose("config", overrides=["experiment=sandbox", "model.sandbox.seed=1", "seed=2"])
        two = compose("config", overrides=["experiment=sandbox", "model.sandbox.seed=3"])
        smoke = compose("config", overrides=["experiment=smoke", "seed=2"])
    assert job_tags(one, {})["replicate"] == "model.sandbox.seed=1 seed=2"
    assert comparison_group(one) == comparison_group(two)
    assert job_tags(smoke, {})["replicate"] == "seed=2"


def test_cli_refuses_a_missing_store_and_creates_nothing(tmp_path):
    import subprocess
    import sys

    uri = f"sqlite:///{tmp_path}/nowhere/mlflow.db"
    out = subprocess.run([sys.executable, "-m", "int_exp.report", "--tracking-uri", uri, "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 2 and "no MLflow store at" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_empty_file_and_a_store_it_would_have_to_migrate(tmp_path, capsys):
    import sqlite3

    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["--tracking-uri", f"sqlite:///{empty}"]) == 2 and "is empty" in capsys.readouterr().err
    assert empty.stat().st_size == 0
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table notes (x)").connection.commit()
    size = other.stat().st_size
    assert main(["--tracking-uri", f"sqlite:///{other}"]) == 2 and "not a complete MLflow store" in capsys.readouterr().err
    assert other.stat().st_size == size


def test_cli_exits_non_zero_when_only_failed_runs_or_no_experiment(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("cmp", artifact_location=str(tmp_path / "artifacts"))
    run_id = log_job(client, experiment_id, tmp_path, "int", 0, 0.1)
    client.set_terminated(run_id, status="FAILED")
    assert main(["--tracking-uri", uri, "--experiment", "cmp", "--out", str(tmp_path / "r")]) == 1
    assert "no FINISHED job runs" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert main(["--tracking-uri", uri, "--experiment", "nope", "--out", str(tmp_path / "r")]) == 1
    assert "no MLflow experiment named 'nope'" in capsys.readouterr().err
