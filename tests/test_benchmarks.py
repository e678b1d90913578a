"""Results per benchmark: eval's pass@k per benchmark of a grouped test set (the paper's), and the
report's paper-shaped table on a scripted MLflow store."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from int_exp.cli import run_job
from int_exp.report import write_report
from int_exp.stages.eval import group_metrics
from tests.test_e2e import last_job, smoke, workspace_at
from tests.test_published import BENCHMARKS, stand_in


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, device):
    """One cache and MLflow store for this module's jobs (the tiny model is built once)."""
    return workspace_at(tmp_path_factory.mktemp("benchmarks"), device)


def test_group_metrics_are_pass_at_k_per_benchmark_and_their_unweighted_mean():
    metrics = group_metrics("t", ["a", "a", "a", "b"], [4, 4, 4, 4], [4, 4, 4, 0], [1, 4])
    assert metrics["t/a/pass_at_1"] == 1.0 and metrics["t/b/pass_at_1"] == 0.0
    assert metrics["t/benchmarks_mean/pass_at_1"] == 0.5  # not 0.75, the mean over problems
    assert (metrics["t/a/problems"], metrics["t/b/problems"]) == (3, 1)


def test_eval_on_the_test_set_logs_pass_at_k_per_benchmark(workspace, tmp_path):
    cfg = smoke(workspace, "stages=[eval]", "data=int_paper", "data.limit=null",
                f"data.train.source={stand_in(tmp_path, 'InT-hard-set')}")
    cfg.data.eval[0].source = stand_in(tmp_path, "InT-test-set", rows=8)  # the paper's mapping, a local stand-in
    run_job(cfg)
    client, job, _ = last_job(workspace)
    metrics = job.data.metrics
    names = ["IMO-AnswerBench", "HMMT_25 Nov", "AMO-Bench", "Apex Shortlist"]  # as MLflow keys allow
    for k in (1, 4):
        per_benchmark = [metrics[f"int_test/{name}/pass_at_{k}"] for name in names]
        assert metrics[f"int_test/benchmarks_mean/pass_at_{k}"] == pytest.approx(np.mean(per_benchmark))
    assert all(metrics[f"int_test/{name}/problems"] == 2 for name in names)
    local = client.download_artifacts(job.info.run_id, "per_problem.csv", str(tmp_path))
    assert sorted(set(pd.read_csv(local)["benchmark"])) == sorted(BENCHMARKS)


RATES = {"AMO-Bench": 0.1, "Apex Shortlist": 0.2, "HMMT'25 Nov": 0.4, "IMO-AnswerBench": 0.6}
SIZES = {"AMO-Bench": 20, "Apex Shortlist": 20, "HMMT'25 Nov": 40, "IMO-AnswerBench": 120}


def log_job(client, experiment_id, folder, variant: str, seed: int, gain: float, n: int = 16) -> None:
    """A finished job on the paper's test set, as run.py logs it: pass@1 and per-problem counts by benchmark."""
    rng = np.random.default_rng([seed, len(variant)])
    rows = [(f"{b}/{i}", b, int(rng.binomial(n, min(1.0, RATES[b] + gain)))) for b in RATES for i in range(SIZES[b])]
    table = pd.DataFrame(rows, columns=["problem_id", "benchmark", "correct"]).assign(dataset="int_test", n=n)
    run = client.create_run(experiment_id, run_name=variant, tags={
        "variant": variant, "seed": str(seed), "comparison_group": "g", "model": "qwen3_4b", "eval_data": "int_test"})
    client.log_param(run.info.run_id, "overrides", f"variant={variant} seed={seed}")
    client.log_metric(run.info.run_id, "int_test/pass_at_1", float((table["correct"] / n).mean()))
    path = folder / f"{variant}-{seed}" / "per_problem.csv"
    path.parent.mkdir()
    table[["dataset", "problem_id", "n", "correct", "benchmark"]].to_csv(path, index=False)
    client.log_artifact(run.info.run_id, str(path))
    client.set_terminated(run.info.run_id)


def test_report_prints_the_papers_table_one_column_per_benchmark_and_the_average(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("paper", artifact_location=str(tmp_path / "artifacts"))
    for seed in (0, 1):
        log_job(client, experiment_id, tmp_path, "int", seed, 0.1)
        log_job(client, experiment_id, tmp_path, "int_published", seed, 0.1)
        log_job(client, experiment_id, tmp_path, "rl_only", seed, 0.0)
    files, text = write_report(argparse.Namespace(uri=uri, experiment="paper"), tmp_path / "out", n_boot=300)
    numbers = pd.read_csv(tmp_path / "out" / "benchmarks_0_int_test_pass_at_1.csv", index_col=0)
    assert list(numbers.index) == ["rl_only", "int", "int_published"]
    estimates = [c for c in numbers.columns if not c.endswith((" low", " high")) and c != "seeds"]
    assert estimates == sorted(RATES) + ["average"]
    row = numbers.loc["rl_only"]
    for benchmark, rate in RATES.items():
        assert row[f"{benchmark} low"] < row[benchmark] < row[f"{benchmark} high"]
        assert row[benchmark] == pytest.approx(100 * rate, abs=4)
    assert row["average"] == pytest.approx(np.mean([row[b] for b in RATES]))  # unweighted, not per problem
    assert row["average low"] < row["average"] < row["average high"]
    assert "pass@1 % per benchmark" in text and "| int_published |" in text
    assert any(p.name == "benchmarks_0_int_test_pass_at_1.csv" for p in files)
