"""The thread budget: cores shared among the int-exp jobs running on this machine."""

from __future__ import annotations

import os
import subprocess
import sys

from int_exp.pipeline import threads
from int_exp.pipeline.processes import HOST


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
        from int_exp.domains.math.pool import default_workers

        assert default_workers(100) == 1  # the grading pool keeps to the budget
    finally:
        torch.set_num_threads(before)
