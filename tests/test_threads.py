"""The thread budget: cores shared among the int-exp jobs running on this machine."""

from __future__ import annotations

import os
import subprocess
import sys

from int_exp.runtime import threads
from int_exp.runtime.processes import HOST


def test_jobs_share_the_cores_and_dead_ones_do_not_count(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "machine_cores", lambda: 8)
    registry = tmp_path / ".jobs"
    assert threads.budget(0, registry) == 8  # nobody registered yet
    with threads.registered(registry) as me:
        assert me.exists() and threads.budget(0, registry) == 8
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            (registry / f"{HOST}.{other.pid}").touch()
            (registry / f"{HOST}.999999999").touch()  # a job that died without cleaning up
            assert threads.live_jobs(registry) == 2 and threads.budget(0, registry) == 4
            assert not (registry / f"{HOST}.999999999").exists()
        finally:
            other.kill()
            other.wait()
        assert threads.budget(0, registry) == 8  # the other job ended
        assert threads.budget(3, registry) == 3  # a set value wins
    assert not me.exists()


def test_apply_sets_torch_and_the_environment_for_children(monkeypatch):
    import torch

    before = torch.get_num_threads()
    for name in (threads.ENV_VAR, "OMP_NUM_THREADS", "RAYON_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    try:
        threads.apply(1)
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == os.environ[threads.ENV_VAR] == "1"
        from int_exp.grading.pool import default_workers

        assert default_workers(100) == 1  # the grading pool keeps to the budget
    finally:
        torch.set_num_threads(before)


def test_a_running_stage_gives_cores_up_when_a_job_starts_and_takes_them_back_when_it_ends(tmp_path, monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "machine_cores", lambda: 2)
    monkeypatch.setattr(threads, "RECHECK_SECONDS", 0.0)
    for name in (threads.ENV_VAR, "OMP_NUM_THREADS", "RAYON_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    registry = tmp_path / ".jobs"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with threads.registered(registry):
            assert threads.follow(0, registry) == 2 and torch.get_num_threads() == 2  # the stage starts alone
            (registry / f"{HOST}.{other.pid}").touch()  # a second job starts
            threads.rebalance()
            assert threads.current() == 1 and torch.get_num_threads() == 1
            (registry / f"{HOST}.{other.pid}").unlink()  # and ends
            threads.rebalance()
            assert threads.current() == 2 and torch.get_num_threads() == 2
            threads.follow(3, registry)  # a set value is kept whatever runs beside
            (registry / f"{HOST}.{other.pid}").touch()
            threads.rebalance()
            assert threads.current() == 3
    finally:
        other.kill()
        other.wait()
        monkeypatch.setattr(threads, "_followed", None)
        torch.set_num_threads(before)


def test_a_job_waiting_on_another_jobs_cache_lock_does_not_count(tmp_path, monkeypatch):
    """Two jobs that need the same entry: the one computing it gets every core while the other waits."""

    from int_exp.pipeline.cache import Cache

    monkeypatch.setattr(threads, "machine_cores", lambda: 2)
    registry = tmp_path / ".jobs"
    monkeypatch.setenv("INT_EXP_JOBS_DIR", str(registry))
    cache = Cache(tmp_path / "cache")
    (tmp_path / "cache" / "rollouts").mkdir(parents=True)
    registry.mkdir()
    entry = registry / f"{HOST}.{os.getpid()}"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import os, sys, time; from filelock import FileLock; lock = FileLock(sys.argv[1]); lock.acquire();"
        "print('held', flush=True); time.sleep(1.0); print(os.path.exists(sys.argv[2]), flush=True); lock.release()"),
        str(tmp_path / "cache" / "rollouts" / "k.lock"), str(entry)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (registry / f"{HOST}.{holder.pid}").touch()  # the job computing the entry
        with threads.registered(registry):
            assert threads.budget(0, registry) == 1
            with cache.lock("rollouts", "k"):  # blocks until the holder releases
                assert entry.exists()  # counted again once it computes
            assert holder.stdout.readline().strip() == "False"  # while it waited, it was not counted
            holder.wait(timeout=30)
            assert threads.budget(0, registry) == 2  # the other job ended
    finally:
        holder.kill()
        holder.wait()
