"""MLflow tracking, read back through MlflowClient: a local sqlite store and a real `mlflow server`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from omegaconf import OmegaConf

from int_exp.pipeline.runner import Runner
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
