"""Killed jobs close their runs: SIGINT and SIGTERM end MLflow runs KILLED (the signal as tag) and
leave no staging folder; after a SIGKILL the next job closes the runs and removes the folder; a
fresh sqlite store is safe for concurrent jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from int_exp.cli import Terminated

ROOT = Path(__file__).resolve().parents[1]


def tracking_cfg(tmp_path: Path, experiment: str = "signals"):
    return SimpleNamespace(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=str(tmp_path / "artifacts"),
                           experiment=experiment, run_name=None, parent_run_id=None, trial_number=None,
                           checkpoint_artifact_max_mb=1)


def runs(uri: str, experiment: str):
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


@pytest.mark.parametrize("error,status,signal_tag", [
    (KeyboardInterrupt(), "KILLED", "SIGINT"),
    (Terminated("received SIGTERM"), "KILLED", "SIGTERM"),
    (ValueError("boom"), "FAILED", None),
])
def test_interrupted_runs_end_killed_with_the_signal(tmp_path, error, status, signal_tag):
    from int_exp.tracking import MlflowTracker

    cfg = tracking_cfg(tmp_path)
    tracker = MlflowTracker(cfg)
    with pytest.raises(type(error)), tracker.run("job", None, {}):
        raise error
    (run,) = runs(cfg.uri, cfg.experiment)
    assert run.info.status == status and run.data.tags.get("signal") == signal_tag
    assert run.data.tags["host"] and run.data.tags["pid"] == str(os.getpid())


def test_a_later_job_closes_runs_left_running_by_a_dead_process(tmp_path):
    from int_exp.runtime.processes import HOST
    from int_exp.tracking import MlflowTracker

    cfg = tracking_cfg(tmp_path)
    tracker = MlflowTracker(cfg)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tracker.start_run("orphan", None, {"pid": str(dead.pid)})
    alive = tracker.start_run("mine", None, {})  # this process: still running, left alone
    elsewhere = tracker.start_run("remote", None, {"pid": str(dead.pid), "host": HOST + "-other"})
    closed = MlflowTracker(cfg).closed_at_start
    assert closed == [orphan]
    status = {r.info.run_id: r.info.status for r in runs(cfg.uri, cfg.experiment)}
    assert status == {orphan: "KILLED", alive: "RUNNING", elsewhere: "RUNNING"}


OPEN_STORE = ("import sys; from types import SimpleNamespace; from int_exp.tracking import MlflowTracker; "
              "t = MlflowTracker(SimpleNamespace(uri=sys.argv[1], artifact_root=sys.argv[2], experiment='fresh', "
              "run_name=None, parent_run_id=None, trial_number=None, checkpoint_artifact_max_mb=1)); "
              "t.client.set_terminated(t.start_run('j', None, {}))")


def test_two_jobs_on_a_fresh_sqlite_store_both_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    jobs = [subprocess.Popen([sys.executable, "-c", OPEN_STORE, uri, str(tmp_path / "a")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [job.communicate(timeout=300) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err[-2000:] for _, err in outputs]
    assert sorted(r.info.status for r in runs(uri, "fresh")) == ["FINISHED", "FINISHED"]


def start_smoke_job(tmp_path: Path, *overrides: str) -> subprocess.Popen:
    cmd = [sys.executable, "run.py", "experiment=smoke", f"paths.cache_dir={tmp_path / 'cache'}",
           f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", f"tracking.artifact_root={tmp_path / 'artifacts'}",
           "tracking.experiment=signals", f"hydra.run.dir={tmp_path / 'hydra'}", *overrides]
    # stderr to a file, not a pipe: nobody reads the pipe while the job runs, and a job blocked on a
    # full pipe (64 KiB of logs and progress bars) cannot finish its SIGTERM handler.
    log = tmp_path / f"job-{len(list(tmp_path.glob('job-*.log')))}.log"
    with log.open("w") as stderr:
        job = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    job.log = log  # type: ignore[attr-defined]
    return job


def job_log(job: subprocess.Popen) -> str:
    return job.log.read_text()[-3000:]  # type: ignore[attr-defined]


def wait_for_staging(tmp_path: Path, job: subprocess.Popen, timeout: float = 240) -> Path:
    """The first staging folder the job creates (a stage is computing)."""
    deadline = time.time() + timeout
    while time.time() < deadline and job.poll() is None:
        found = list((tmp_path / "cache").glob("*/.*.tmp"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no stage started (exit {job.poll()}): {job_log(job) if job.poll() else ''}")


def test_sigterm_ends_the_job_killed_and_leaves_no_staging_folder(tmp_path):
    job = start_smoke_job(tmp_path, "stages=[rollouts]")
    wait_for_staging(tmp_path, job)
    job.send_signal(signal.SIGTERM)
    job.wait(timeout=120)
    assert job.returncode != 0
    assert not list((tmp_path / "cache").glob("*/.*.tmp"))
    statuses = {(r.info.run_name, r.info.status, r.data.tags.get("signal")) for r in
                runs(f"sqlite:///{tmp_path / 'mlflow.db'}", "signals")}
    assert statuses and all(status == "KILLED" and tag == "SIGTERM" for _, status, tag in statuses), statuses


def test_after_sigkill_the_next_job_closes_the_runs_and_removes_the_staging_folder(tmp_path):
    job = start_smoke_job(tmp_path, "stages=[rollouts]")
    staging = wait_for_staging(tmp_path, job)
    job.kill()
    job.wait(timeout=60)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert staging.exists() and any(r.info.status == "RUNNING" for r in runs(uri, "signals"))
    again = start_smoke_job(tmp_path, "stages=[problems]")
    assert again.wait(timeout=300) == 0, job_log(again)
    assert not staging.exists()
    left = [r for r in runs(uri, "signals") if r.info.status == "RUNNING"]
    assert left == []
