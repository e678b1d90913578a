"""The thread budget: a job uses this machine's cores divided by the int-exp jobs running on it.

Every process of torch, OpenMP and the tokenizers takes every core by default, so two jobs on
2 cores run 4+ threads and wait on each other (training slowed 8x in our measurement). A job
registers itself in a folder every job of this user on this machine shares (:func:`registry`:
``<tmp>/int-exp-jobs-<uid>``, or ``$INT_EXP_JOBS_DIR``; ``<host>.<pid>``, entries of dead
processes are ignored and removed) and, before each stage, sets its threads to ``cores // live jobs`` (at
least 1), or to ``threads`` when that is set. Jobs of a Hydra local launcher (joblib, submitit
local) and separate shells all see each other, so their budgets shrink as jobs start and grow as
they end. The grading pool sizes itself from the same budget (``$INT_EXP_THREADS``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from int_exp.pipeline.processes import HOST, process_alive

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


def current() -> int | None:
    """The budget the runner last set in this process (or its parent), if any."""
    value = os.environ.get(ENV_VAR, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


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
