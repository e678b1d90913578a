"""The worker processes :func:`int_exp.grading.grader.grade_many` sends large batches (and off-main-thread
calls) to.

Each worker is a fresh interpreter (as with the ``spawn`` start method: never a fork of a parent
that may hold torch threads, and without re-running the parent's ``__main__``) running
:func:`int_exp.grading.grader._worker_entry`, which enforces the per-pair time limit with an alarm on its
own main thread. The parent watches them and kills and replaces a worker that has not answered
``timeout + kill_grace`` seconds after it was handed a pair (stuck in C code, crashed). Each worker
has its own pipe, so that one stuck worker can be killed alone.

One pool per process, started on first use (:func:`get_pool`), reused by later calls and stopped
at exit or by :func:`shutdown_pool`; a forked child forgets its parent's pool.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing.connection
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from int_exp.runtime import threads

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT = 120.0
"""Seconds a new worker may take to start (spawn + imports) before the pool gives up on it."""

# What a worker interpreter runs: the grading side of the pipe lives in int_exp.grading.grader.
_WORKER_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
    "from int_exp.grading.grader import _worker_entry; _worker_entry(int(sys.argv[1]))"
)


class _Worker:
    """One grading worker: a fresh interpreter (like the ``spawn`` start method) and a socket pair.

    Started with ``subprocess`` rather than ``multiprocessing``'s spawn context because spawn re-runs
    the parent's ``__main__`` module in every child: a script without a ``__main__`` guard would
    recurse, and one importing torch at the top would load torch into every grader.
    """

    def __init__(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        child_fd = child_sock.fileno()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_BOOT, str(child_fd), json.dumps(sys.path)],
                pass_fds=(child_fd,),
                stdin=subprocess.DEVNULL,
                start_new_session=False,
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.conn = multiprocessing.connection.Connection(parent_sock.detach())
        self.started = time.monotonic()
        self.ready = False
        self.task: int | None = None  # index of the pair being graded
        self.deadline = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.proc.kill()
            self.proc.wait(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not within a second."""
        try:
            self.conn.send(None)
            self.proc.wait(timeout=1)
            self.conn.close()
        except (OSError, subprocess.TimeoutExpired):  # broken pipe, or still running after a second
            self.kill()


class WorkerPool:
    """Worker processes, each with its own pipe, so that one stuck worker can be killed alone."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()

    def _spawn(self) -> _Worker:
        worker = _Worker()
        self.workers.append(worker)
        return worker

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        self.workers.remove(worker)

    def run(
        self,
        pairs: Sequence[tuple[str, str]],
        timeout: float,
        workers: int,
        on_done: Callable[[int], None] | None = None,
        *,
        kill_grace: float,
    ) -> list[bool]:
        """Verdicts for ``pairs`` (prediction, gold), in order; ``on_done(i)`` as pair i is done.

        A worker still busy ``timeout + kill_grace`` seconds after it got a pair is killed and the
        pair counts False.
        """
        with self.lock:
            try:
                return self._run(pairs, timeout, workers, on_done, kill_grace)
            except BaseException:
                # Interrupted (Ctrl-C, a failing progress callback...): a busy worker would later
                # answer a pair of this call into the next one, so it goes.
                for worker in [w for w in self.workers if w.task is not None]:
                    self._drop(worker)
                raise

    def _run(self, pairs, timeout, n_workers, on_done, kill_grace) -> list[bool]:
        results: list[bool] = [False] * len(pairs)
        pending = deque(range(len(pairs)))
        n_workers = max(1, min(n_workers, len(pairs)))
        while len(self.workers) < n_workers:
            self._spawn()
        start_failures = 0
        limit = timeout + kill_grace if timeout and timeout > 0 else None

        def finish(index: int, verdict: bool) -> None:
            results[index] = verdict
            if on_done is not None:
                on_done(index)

        while pending or any(w.task is not None for w in self.workers):
            # Keep n_workers alive while there is work left for them (replacing killed ones).
            while pending and len(self.workers) < n_workers:
                self._spawn()
            self._hand_out(pairs, pending, timeout, n_workers, limit)
            start_failures += self._receive(finish)
            start_failures += self._reap(limit, finish)
            if start_failures >= 3:
                raise RuntimeError(
                    f"int_exp.grading.grader: {start_failures} grading workers failed to start "
                    "(see their stderr); cannot grade in worker processes"
                )
        return results

    def _hand_out(self, pairs, pending: deque, timeout, n_workers: int, limit: float | None) -> None:
        """Send pending pairs to idle ready workers, keeping at most ``n_workers`` busy."""
        busy = sum(w.task is not None for w in self.workers)
        for worker in list(self.workers):
            if worker.ready and worker.task is None and pending and busy < n_workers:
                index = pending.popleft()
                pred, gold = pairs[index]
                try:
                    worker.conn.send((index, pred, gold, timeout))
                except OSError:  # broken pipe: the worker died
                    pending.appendleft(index)
                    self._drop(worker)
                    break
                worker.task = index
                busy += 1
                worker.deadline = time.monotonic() + limit if limit else float("inf")

    def _receive(self, finish: Callable[[int, bool], None]) -> int:
        """Wait for messages until the next deadline and handle them; returns workers that failed to start."""
        start_failures = 0
        now = time.monotonic()
        deadlines = [w.deadline for w in self.workers if w.task is not None]
        deadlines += [w.started + WORKER_START_TIMEOUT for w in self.workers if not w.ready]
        wait_for = max(0.0, min(deadlines) - now) if deadlines else None
        by_conn = {w.conn: w for w in self.workers}
        for conn in multiprocessing.connection.wait(list(by_conn), timeout=wait_for):
            worker = by_conn[conn]
            try:
                msg = conn.recv()
            except (EOFError, OSError):  # the worker died (segfault, OOM kill, ...)
                if worker.task is not None:
                    log.warning("grading worker %s died on a pair; counted False", worker.pid)
                    finish(worker.task, False)
                elif not worker.ready:
                    start_failures += 1
                self._drop(worker)
                continue
            if msg[0] == "ready":
                worker.ready = True
            else:
                index, verdict = msg
                worker.task = None
                finish(index, bool(verdict))
        return start_failures

    def _reap(self, limit: float | None, finish: Callable[[int, bool], None]) -> int:
        """Kill workers stuck on a pair or slow to start; returns those that failed to start."""
        start_failures = 0
        now = time.monotonic()
        for worker in list(self.workers):
            if worker.task is not None and now >= worker.deadline:
                log.warning("grading worker %s stuck past %.1fs; killed, pair counted False",
                            worker.pid, limit)
                finish(worker.task, False)
                self._drop(worker)
            elif not worker.ready and now >= worker.started + WORKER_START_TIMEOUT:
                start_failures += 1
                self._drop(worker)
        return start_failures

    def close(self) -> None:
        with self.lock:
            for worker in self.workers:
                worker.stop()
            self.workers.clear()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> WorkerPool:
    """This process's pool (a new one in a forked child or after :func:`shutdown_pool`)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = WorkerPool()
        return _POOL


def shutdown_pool() -> None:
    """Stop the grading worker processes (they are started again on demand). Runs at exit."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


def _forget_pool_in_child() -> None:
    # A forked child must not talk to its parent's workers; it starts its own when needed.
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


atexit.register(shutdown_pool)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def default_workers(n_pairs: int) -> int:
    """One worker per CPU of this job's thread budget (``$INT_EXP_THREADS``, set by the runner;
    else every CPU this process may use), at most one per pair."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(n_pairs, cpus, threads.current() or cpus))
