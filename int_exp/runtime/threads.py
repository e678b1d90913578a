"""The thread budget: a job uses this machine's cores divided by the int-exp jobs running on it.

Every process of torch, OpenMP and the tokenizers takes every core by default, so two jobs on
2 cores run 4+ threads and wait on each other (training slowed 8x in our measurement). A job
registers itself in a folder every job of this user on this machine shares (:func:`registry`:
``<tmp>/int-exp-jobs-<uid>``, or ``$INT_EXP_JOBS_DIR``; ``<host>.<pid>``, entries of dead
processes are ignored and removed) and, before each stage, sets its threads to ``cores // live jobs`` (at
least 1), or to ``threads`` when that is set. Within a stage, :func:`rebalance` (called per
decoding step and per training step, at most every few seconds) re-applies it, so a stage that
began alone gives cores up when another job starts and takes them back when it ends; a job
waiting on another's cache lock is not counted (:func:`waiting`). Jobs of a Hydra local
launcher (joblib, submitit local) and separate shells all see each other. The grading pool
sizes itself from the same budget (``$INT_EXP_THREADS``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from int_exp.runtime.processes import HOST, process_alive

log = logging.getLogger("int_exp.threads")

ENV_VAR = "INT_EXP_THREADS"  # the current budget, for this process's children and the grading pool


def registry() -> Path:
    """The folder where this machine's running jobs register (shared whatever their cache)."""
    default = Path(tempfile.gettempdir()) / f"int-exp-jobs-{os.getuid() if hasattr(os, 'getuid') else 0}"
    return Path(os.environ.get("INT_EXP_JOBS_DIR") or default)


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def live_jobs(registry: Path) -> int:
    """Jobs registered on this host whose process is alive (stale entries are removed)."""
    count = 0
    for entry in registry.glob(f"{HOST}.*"):
        pid = entry.name.rpartition(".")[2]
        if pid.isdigit() and process_alive(int(pid)):
            count += 1
        else:
            entry.unlink(missing_ok=True)
    return count


@contextlib.contextmanager
def registered(registry: Path) -> Iterator[Path]:
    """This process counted as a running job while the block runs."""
    registry.mkdir(parents=True, exist_ok=True)
    entry = registry / f"{HOST}.{os.getpid()}"
    entry.touch()
    try:
        yield entry
    finally:
        entry.unlink(missing_ok=True)


@contextlib.contextmanager
def waiting(registry: Path) -> Iterator[None]:
    """This job not counted while the block runs: it waits on another job (a cache lock) and uses
    no core, so the job it waits for gets them."""
    entry = registry / f"{HOST}.{os.getpid()}"
    if not entry.exists():  # not a registered job (a test, a script)
        yield
        return
    entry.unlink(missing_ok=True)
    try:
        yield
    finally:
        entry.touch()


def current() -> int | None:
    """The budget the runner last set in this process (or its parent), if any."""
    value = os.environ.get(ENV_VAR, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


_followed: Path | None = None  # the registry the budget follows (None: a fixed setting, or no runner)
_last_check = 0.0
RECHECK_SECONDS = 2.0


def follow(setting: int, registry: Path) -> int:
    """Apply this job's budget before a stage and return it; with ``setting`` 0 the budget keeps
    following the jobs in ``registry`` (:func:`rebalance`)."""
    global _followed, _last_check
    _followed = None if int(setting or 0) > 0 else registry
    _last_check = time.monotonic()
    threads = budget(setting, registry)
    apply(threads)
    return threads


def rebalance() -> None:
    """Re-apply the budget mid-stage when jobs started or ended (a glob of the registry, at most
    every ``RECHECK_SECONDS``; nothing when the budget is fixed or no runner set one)."""
    global _last_check
    if _followed is None or time.monotonic() - _last_check < RECHECK_SECONDS:
        return
    _last_check = time.monotonic()
    threads = budget(0, _followed)
    if threads != current():
        apply(threads)


def budget(setting: int, registry: Path) -> int:
    """``setting`` threads when > 0, else this machine's cores shared among its live jobs."""
    if int(setting or 0) > 0:
        return int(setting)
    return max(1, machine_cores() // max(1, live_jobs(registry)))


def apply(threads: int) -> None:
    """Use ``threads`` from now on (torch intra-op; inter-op and the tokenizers' pool where they
    can still be set; the environment, for children)."""
    previous = os.environ.get(ENV_VAR)
    for name in (ENV_VAR, "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true" if threads > 1 else "false")
    torch = sys.modules.get("torch")  # not imported yet: it reads OMP_NUM_THREADS when it is
    if torch is not None:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # only settable before the first parallel region
            torch.set_num_interop_threads(threads)
    if previous != str(threads):
        log.info("thread budget: %d (cores %d)", threads, machine_cores())
