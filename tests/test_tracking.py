"""MLflow tracking, read back through MlflowClient: a local sqlite store and a real `mlflow server`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import Stage, StageOutput
from int_exp.tracking import MlflowTracker
from tests.test_pipeline import STAGES, make_cfg


def tracking_cfg(uri: str, tmp_path, experiment: str = "test"):
    return OmegaConf.create({"enabled": True, "uri": uri, "artifact_root": str(tmp_path / "artifacts"),
                             "experiment": experiment, "run_name": "job", "parent_run_id": None,
                             "checkpoint_artifact_max_mb": 10})


def run_job(cfg, tracking):
    tracker = MlflowTracker(tracking)
    with tracker.job(cfg, {"variant": "test"}, {"overrides": "x=1"}) as run_id:
        results = Runner(cfg, tracker, STAGES).run()
        tracker.log_metrics(None, {"final": 1.5})
    return tracker, run_id, results


def check_job_logged(client, run_id, results, expect_hit: bool):
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    # the UI opens the experiment in its model-training view, not the GenAI one
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.params["square.power"] == "2" and run.data.params["overrides"] == "x=1"
    assert run.data.metrics["final"] == 1.5 and run.data.metrics["funnel/numbers"] == 4
    assert "config.yaml" in [a.path for a in client.list_artifacts(run_id)]
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    by_stage = {c.data.tags["stage"]: c for c in children}
    assert set(by_stage) == {"numbers", "squares"}
    squares = by_stage["squares"]
    assert squares.data.tags["cache_key"] == results["squares"].key
    assert squares.data.tags["cache_hit"] == str(expect_hit).lower()
    assert squares.info.status == "FINISHED"
    inputs = squares.inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["squares/main"]
    assert inputs[0].dataset.digest == results["squares"].manifest["tables"]["main"]["digest"]
    assert "note.txt" in [a.path for a in client.list_artifacts(squares.info.run_id)]


def test_job_and_stage_runs_in_sqlite_store(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg(tmp_path)
    _, first_id, results = run_job(cfg, tracking_cfg(uri, tmp_path))
    client = MlflowClient(uri)
    check_job_logged(client, first_id, results, expect_hit=False)
    _, second_id, results = run_job(cfg, tracking_cfg(uri, tmp_path))
    check_job_logged(client, second_id, results, expect_hit=True)


def test_exception_ends_runs_failed_with_the_error_visible(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = make_cfg(tmp_path, **{"square.crash": True})
    tracker = MlflowTracker(tracking_cfg(uri, tmp_path))
    with pytest.raises(RuntimeError), tracker.job(cfg, {"variant": "test"}, {}) as run_id:
        Runner(cfg, tracker, STAGES).run()
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert "simulated crash" in run.data.tags["error"]
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    status = {c.data.tags["stage"]: c.info.status for c in children}
    assert status == {"numbers": "FINISHED", "squares": "FAILED"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
         "--default-artifact-root", str(tmp_path / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).read().strip() == b"OK":
                break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("mlflow server did not answer /health within 90 s")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_job_logged_to_a_real_mlflow_server(tmp_path, mlflow_server):
    from mlflow import MlflowClient

    cfg = make_cfg(tmp_path)
    _, run_id, results = run_job(cfg, tracking_cfg(mlflow_server, tmp_path, experiment="server-test"))
    check_job_logged(MlflowClient(mlflow_server), run_id, results, expect_hit=False)


def test_a_sqlite_store_in_a_missing_folder_is_an_error_naming_it_unless_asked_to_create(tmp_path):
    uri = f"sqlite:///{tmp_path}/nonexistent/dir/x.db"
    with pytest.raises(FileNotFoundError, match=f"tracking.uri={uri}: the store's folder {tmp_path}/nonexistent/dir "
                                                "does not exist"):
        MlflowTracker(tracking_cfg(uri, tmp_path))
    assert not (tmp_path / "nonexistent").exists()
    cfg = tracking_cfg(uri, tmp_path)
    cfg.create = True
    MlflowTracker(cfg)
    assert (tmp_path / "nonexistent" / "dir" / "x.db").is_file()


# -- checkpoints as LoggedModels (int_exp/tracking/models.py), on fake stages: seconds, no torch ------
def write_model(ctx, weights: str):
    (ctx.out_dir / "model").mkdir()
    (ctx.out_dir / "model" / "config.json").write_text("{}")
    (ctx.out_dir / "model" / "weights.bin").write_text(weights)


def base_stage(ctx):
    write_model(ctx, "base")
    return StageOutput(model="model")


def train_stage(ctx):
    rows = len(ctx.inputs["data"].table())
    write_model(ctx, f"trained on {rows} rows, power {ctx.cfg.square.power}")
    return StageOutput(model="model", metrics={"train/rows": rows})


def evaluate_stage(ctx):
    table = pd.DataFrame({"problem_id": ["a", "b"], "answer": ["1", "2"]})
    score = ctx.cfg.square.power / 10
    return StageOutput(tables={"arith": table}, metrics={"arith/pass_at_1": score, "arith/problems": 2})


MODEL_STAGES = {
    "numbers": STAGES["numbers"],
    "model": Stage("model", "1", [], {}, base_stage, tables=(), policy=True),
    "train": Stage("train", "1", ["square.power"], {"data": "numbers", "policy": "model"}, train_stage,
                   tables=(), policy=True),
    "eval": Stage("eval", "1", ["square.power"], {"policy": "train"}, evaluate_stage, tables=["arith"]),
}


def model_job(tmp_path, uri, power: int, max_mb: float, experiment: str = "models"):
    cfg = make_cfg(tmp_path, stages=["eval"], **{"square.power": power, "seed": 3})
    tracking = tracking_cfg(uri, tmp_path, experiment)
    tracking.checkpoint_artifact_max_mb = max_mb
    tracker = MlflowTracker(tracking)
    with tracker.job(cfg, {"variant": "test"}, {}) as run_id:
        results = Runner(cfg, tracker, MODEL_STAGES).run()
    return tracker, run_id, results


def test_checkpoints_are_logged_models_with_linked_eval_metrics_and_resolve_back(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from int_exp.tracking.models import folder_digest, resolve_model_uri

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker, run_id, results = model_job(tmp_path, uri, power=2, max_mb=0)  # a local store: nothing copied
    model_job(tmp_path, uri, power=5, max_mb=0)
    _, again_id, _ = model_job(tmp_path, uri, power=2, max_mb=0)  # cache hits: the same models, no new ones
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    found = mlflow.search_logged_models(experiment_ids=[tracker.experiment_id], output_format="list",
                                        order_by=[{"field_name": "metrics.arith/pass_at_1", "ascending": False}])
    assert [m.name for m in found] == ["test-train", "test-train", "base-model"]
    best, second, _base = found
    assert best.params["square.power"] == "5" and second.params["square.power"] == "2"
    assert [m.value for m in best.metrics if m.key == "arith/pass_at_1"] == [0.5]
    assert {(m.dataset_name, m.dataset_digest) for m in second.metrics} == {("arith", "ddc7523b594d0dff")}
    assert second.tags["cache_key"] == results["train"].key and second.tags["stage"] == "train"
    assert second.tags["variant"] == "test" and second.tags["seed"] == "3"
    assert second.tags["files"] == "local" and second.tags["mlflow.model.isExternal"] == "true"
    assert second.tags["checkpoint"] == results["train"].model_path
    assert second.tags["digest"] == folder_digest(Path(results["train"].model_path), tmp_path / "cache")
    assert "numbers/main@" in second.tags["datasets"]
    assert {a.path for a in client.list_artifacts(second.source_run_id)} == set()  # no checkpoint copy on the run
    assert client.get_run(second.source_run_id).outputs.model_outputs[0].model_id == second.model_id
    for job in (run_id, again_id):
        assert client.get_run(job).data.tags["evaluated_model_id"] == second.model_id
    resolved = resolve_model_uri(f"models:/{second.model_id}", uri, tmp_path / "cache")
    assert resolved.path == results["train"].model_path  # an external model: its cache entry


def test_small_checkpoints_are_logged_once_then_downloaded_once_from_the_registry(tmp_path, monkeypatch):
    import mlflow
    import mlflow.artifacts
    from mlflow import MlflowClient

    from int_exp.tracking.models import folder_digest, resolve_model_uri

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker, _run_id, _results = model_job(tmp_path, uri, power=2, max_mb=1)
    model_job(tmp_path, uri, power=2, max_mb=1)  # a cache hit logs nothing again
    client = MlflowClient(uri)
    models = client.search_logged_models([tracker.experiment_id], filter_string="name = 'test-train'")
    assert len(models) == 1 and models[0].tags["files"] == "mlflow"
    model_id = models[0].model_id
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.register_model(f"models:/{model_id}", "trained")
    resolved = resolve_model_uri("models:/trained/1", uri, tmp_path / "cache")
    assert (resolved.model_id, Path(resolved.path)) == (model_id, tmp_path / "cache" / "mlflow-models" / model_id)
    assert folder_digest(Path(resolved.path), tmp_path / "cache") == models[0].tags["digest"]
    assert (Path(resolved.path) / "weights.bin").read_text() == "trained on 4 rows, power 2"
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", None)  # a second download would fail
    assert resolve_model_uri(f"models:/{model_id}", uri, tmp_path / "cache").path == resolved.path
