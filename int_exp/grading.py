"""Answer grading with math-verify: last ``\\boxed{}`` of an output against a gold answer.

Public API:

* :func:`extract_boxed` -- content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (brace matched).
* :func:`grade` -- one output against one gold answer.
* :func:`grade_many` -- a batch, deduplicated on distinct (prediction, gold) pairs and graded in a
  reusable pool of worker processes.
* :func:`answers_equivalent` -- two bare answer strings (no box needed).

Every comparison is ``verify(parse(gold), parse(pred))`` -- gold first, since math-verify is not
symmetric (e.g. gold ``(1,2)`` vs prediction ``1<x<2`` is False, the other way round True) -- with
both strings wrapped as ``$...$`` so that math-verify reads them as LaTeX (``\\boxed{...}`` wrapping
loses ``10\\%`` == ``10``). Each comparison has a hard, wall-clock time limit covering parsing and
verification together; a comparison that runs past it, or raises, counts as False.

How the time limit is enforced: math-verify's own timeouts use ``signal.alarm`` (whole seconds,
one alarm for each parse and each comparison, main thread only, raising ``ValueError`` elsewhere).
They are switched off here (``parsing_timeout=None``, ``timeout_seconds=None``) and replaced by:

* on the main thread: a single one-shot ``setitimer`` alarm around parse + parse + verify, which
  raises an exception that math-verify does not catch; an alarm the caller had armed is saved
  and re-armed afterwards;
* elsewhere (other threads, large batches): worker processes, each a fresh interpreter (as with
  the ``spawn`` start method: never a fork of a parent that may hold torch threads, and without
  re-running the parent's ``__main__``), each enforcing the same alarm on its own main thread and
  watched by the parent, which kills and replaces a worker that has not answered
  ``timeout + KILL_GRACE`` seconds after it was handed a pair (stuck in C code, crashed).

Importing this module is cheap: math-verify is imported inside the functions that need it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing.connection
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["answers_equivalent", "extract_boxed", "grade", "grade_many", "shutdown_pool"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""Seconds allowed for one (prediction, gold) comparison, parsing included."""

IN_PROCESS_MAX_PAIRS = 32
"""On the main thread, batches with fewer distinct pairs than this are graded in-process."""

KILL_GRACE = 2.0
"""Extra seconds the parent waits for a worker past the time limit before killing it."""

WORKER_START_TIMEOUT = 120.0
"""Seconds a new worker may take to start (spawn + imports) before the pool gives up on it."""

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*\{")

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Box extraction
# --------------------------------------------------------------------------------------------


def extract_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\boxed {...}``, ``\fbox{...}``) in ``text``.

    Braces are matched, so nested groups survive (``\boxed{\frac{1}{2}}`` gives ``\frac{1}{2}``);
    escaped braces (``\{``, ``\}``) and other backslash pairs (``\\``) do not count.

    Args:
        text: A model output.

    Returns:
        The content of the last box, stripped of surrounding whitespace, or None if there is no
        box or the last one is never closed (e.g. a truncated output).

    Examples:
        >>> extract_boxed(r"so $x = \boxed{1}$, no wait, $\boxed{\frac{1}{2}}$")
        '\\frac{1}{2}'
        >>> extract_boxed(r"\boxed{\{1, 2\}}")
        '\\{1, 2\\}'
        >>> extract_boxed("no box") is None, extract_boxed(r"\boxed{\frac{1}{2}") is None
        (True, True)
    """
    if not isinstance(text, str):
        return None
    last = None
    for last in _BOX_RE.finditer(text):
        pass
    if last is None:
        return None
    start = last.end()
    depth, i, n = 1, start, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i].strip()
        i += 1
    return None


# --------------------------------------------------------------------------------------------
# In-process comparison (main thread only) with a hard deadline
# --------------------------------------------------------------------------------------------


class _PairTimeout(BaseException):
    """Raised by the alarm; a BaseException so that math-verify's ``except Exception`` misses it."""


_MV_READY = False


def _math_verify():
    """math-verify, imported and warmed up once, outside any time limit.

    The first import and parse (sympy, the ANTLR LaTeX parser) take around a second, more on a
    loaded machine: inside the per-pair time limit they would fail a right answer. Also silences
    math-verify's 'timeout disabled' warnings: we enforce our own limit.
    """
    global _MV_READY
    import math_verify

    if not _MV_READY:
        import math_verify.grader
        import math_verify.parser

        math_verify.parser.TIMEOUT_WARNING_SHOWN = True
        math_verify.grader.TIMEOUT_WARNING_SHOWN = True
        with contextlib.suppress(Exception):
            math_verify.verify(
                math_verify.parse("$\\frac{1}{2}$", parsing_timeout=None),
                math_verify.parse("$0.5$", parsing_timeout=None),
                timeout_seconds=None,
            )
        _MV_READY = True
    return math_verify


def _parse_answer(answer: str) -> list:
    mv = _math_verify()
    parsed = mv.parse("$" + answer + "$", parsing_timeout=None)
    if not parsed:  # e.g. an answer ending in a backslash escapes the closing dollar
        parsed = mv.parse("\\boxed{" + answer + "}", parsing_timeout=None)
    return parsed


def _compare(pred: str, gold: str) -> bool:
    """math-verify verdict for a bare prediction against a bare gold answer, gold first."""
    if not pred or not gold:
        return False
    mv = _math_verify()
    gold_parsed = _parse_answer(gold)
    if not gold_parsed:
        return False
    pred_parsed = _parse_answer(pred)
    if not pred_parsed:
        return False
    return bool(mv.verify(gold_parsed, pred_parsed, timeout_seconds=None))


def _can_use_alarm() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


def _call_with_deadline(fn: Callable[[], T], timeout: float | None) -> T:
    """``fn()`` under a one-shot SIGALRM timer (main thread only); raises _PairTimeout past it.

    The caller's SIGALRM handler is restored, and a timer it had armed is re-armed with the time it
    had left (at once if that ran out meanwhile).
    """
    if timeout is None or timeout <= 0:
        return fn()

    def on_alarm(signum, frame):
        raise _PairTimeout

    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = 0.0, 0.0
    try:
        try:
            old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, timeout)
            return fn()
        finally:
            # One-shot: if it fires before this line, the exception skips it and nothing is armed.
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:
            left = old_delay - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), old_interval)


def _verify_in_process(pred: str, gold: str, timeout: float | None) -> bool:
    """Verdict for one pair on the main thread: False on timeout or on any error."""
    try:
        _math_verify()  # import and warm-up are not charged to the pair
        return _call_with_deadline(lambda: _compare(pred, gold), timeout)
    except _PairTimeout:
        log.debug("grading timed out after %.1fs: gold=%.80r pred=%.80r", timeout, gold, pred)
        return False
    except Exception:  # any failure of parsing/verification is a wrong answer
        log.debug("grading failed: gold=%.80r pred=%.80r", gold, pred, exc_info=True)
        return False


# --------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------


def _worker_main(conn: multiprocessing.connection.Connection) -> None:
    """Worker loop: receive ``(task_id, pred, gold, timeout)``, send back ``(task_id, verdict)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        _math_verify()  # import and warm up before saying "ready"
        conn.send(("ready", os.getpid()))
        while True:
            msg = conn.recv()
            if msg is None:
                break
            task_id, pred, gold, timeout = msg
            conn.send((task_id, _verify_in_process(pred, gold, timeout)))
    except (EOFError, OSError, KeyboardInterrupt):  # parent gone or closing
        pass


_WORKER_BOOT = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[2]); "
    "from int_exp.grading import _worker_entry; _worker_entry(int(sys.argv[1]))"
)


def _worker_entry(fd: int) -> None:
    """Entry point of a worker interpreter started by :class:`_Worker`."""
    _worker_main(multiprocessing.connection.Connection(fd))


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


class _Pool:
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
    ) -> list[bool]:
        """Verdicts for ``pairs`` (prediction, gold), in order."""
        with self.lock:
            try:
                return self._run(pairs, timeout, workers, on_done)
            except BaseException:
                # Interrupted (Ctrl-C, a failing progress callback...): a busy worker would later
                # answer a pair of this call into the next one, so it goes.
                for worker in [w for w in self.workers if w.task is not None]:
                    self._drop(worker)
                raise

    def _run(self, pairs, timeout, n_workers, on_done) -> list[bool]:
        results: list[bool] = [False] * len(pairs)
        pending = deque(range(len(pairs)))
        n_workers = max(1, min(n_workers, len(pairs)))
        while len(self.workers) < n_workers:
            self._spawn()
        start_failures = 0
        limit = timeout + KILL_GRACE if timeout and timeout > 0 else None

        def finish(index: int, verdict: bool) -> None:
            results[index] = verdict
            if on_done is not None:
                on_done(index)

        while pending or any(w.task is not None for w in self.workers):
            # Keep n_workers alive while there is work left for them (replacing killed ones).
            while pending and len(self.workers) < n_workers:
                self._spawn()
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
            if start_failures >= 3:
                raise RuntimeError(
                    f"int_exp.grading: {start_failures} grading workers failed to start "
                    "(see their stderr); cannot grade in worker processes"
                )
        return results

    def close(self) -> None:
        with self.lock:
            for worker in self.workers:
                worker.stop()
            self.workers.clear()


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def _get_pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = _Pool()
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


def _default_workers(n_pairs: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(n_pairs, cpus))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _verify_pairs(
    pairs: Sequence[tuple[str, str]],
    timeout: float,
    workers: int | None = None,
    allow_in_process: bool = True,
    on_done: Callable[[int], None] | None = None,
) -> list[bool]:
    if not pairs:
        return []
    if allow_in_process and _can_use_alarm() and len(pairs) < IN_PROCESS_MAX_PAIRS:
        out = []
        for i, (pred, gold) in enumerate(pairs):
            out.append(_verify_in_process(pred, gold, timeout))
            if on_done is not None:
                on_done(i)
        return out
    n_workers = workers if workers is not None else _default_workers(len(pairs))
    return _get_pool().run(pairs, timeout, n_workers, on_done)


def answers_equivalent(pred: str, gold: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
    r"""Whether a bare predicted answer is equivalent to a bare gold answer (math-verify, gold first).

    Args:
        pred: Predicted answer as LaTeX or plain text, without ``\boxed{}`` (e.g. ``0.5``).
        gold: Gold answer, same format (e.g. ``\frac{1}{2}``).
        timeout: Hard limit in seconds for the comparison; past it the answer is False.

    Returns:
        True if math-verify judges them equal; False otherwise, on error or on timeout.

    Examples:
        >>> answers_equivalent("0.5", r"\frac{1}{2}"), answers_equivalent("3", "4")
        (True, False)
    """
    pred, gold = str(pred).strip(), str(gold).strip()
    if not pred or not gold:
        return False
    return _verify_pairs([(pred, gold)], timeout)[0]


def grade(output: str, gold: str, *, timeout: float = DEFAULT_TIMEOUT) -> bool:
    r"""Whether the last ``\boxed{}`` answer of ``output`` matches ``gold``.

    Safe from any thread: on the main thread the comparison runs in-process under a SIGALRM timer,
    elsewhere in a worker process.

    Args:
        output: A model output; its answer is the content of its last ``\boxed{...}``.
        gold: Gold answer without a box, e.g. ``72``, ``\frac{1}{2}``, ``\{1,2\}``, ``[2, 5)``.
        timeout: Hard limit in seconds for parsing and comparing; past it the answer is False.

    Returns:
        True if math-verify judges the boxed answer equal to the gold one; False if it does not,
        if there is no (closed) box, on error or on timeout.

    Examples:
        >>> grade(r"... so the answer is $\boxed{0.5}$.", r"\frac{1}{2}")
        True
        >>> grade("the answer is 0.5", r"\frac{1}{2}")
        False
    """
    pred = extract_boxed(output)
    if pred is None:
        return False
    return answers_equivalent(pred, gold, timeout=timeout)


def grade_many(
    outputs: Sequence[str],
    golds: Sequence[str],
    *,
    workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = False,
) -> list[bool]:
    r"""Grade ``outputs[i]`` against ``golds[i]`` for every i (same verdicts as :func:`grade`).

    The boxes are extracted here, and each distinct (prediction, gold) pair is verified once, so a
    batch of 64 samples per problem with a handful of distinct answers costs a handful of
    comparisons per problem. On the main thread, fewer than :data:`IN_PROCESS_MAX_PAIRS` distinct
    pairs are verified in-process; otherwise they go to a pool of worker processes (fresh
    interpreters), started on first use, reused by later calls and stopped at exit (or by
    :func:`shutdown_pool`).

    Args:
        outputs: Model outputs.
        golds: Gold answers, one per output.
        workers: Worker processes to use (default: one per available CPU, at most one per pair).
        timeout: Hard limit in seconds for each distinct pair; past it that pair is False (a worker
            stuck past ``timeout + KILL_GRACE`` is killed and replaced).
        progress: Show a tqdm progress bar (counts samples).

    Returns:
        One verdict per output.

    Raises:
        ValueError: If ``outputs`` and ``golds`` differ in length.

    Examples:
        >>> grade_many([r"\boxed{0.5}", r"\boxed{2}", "no box"], [r"\frac12", "3", "1"])
        [True, False, False]
    """
    if len(outputs) != len(golds):
        raise ValueError(
            f"grade_many: outputs and golds must have the same length, got {len(outputs)} outputs "
            f"and {len(golds)} golds"
        )
    index: dict[tuple[str, str], int] = {}
    pairs: list[tuple[str, str]] = []
    multiplicity: list[int] = []
    slots: list[int | None] = []
    for output, gold in zip(outputs, golds):
        pred = extract_boxed(output)
        gold = str(gold).strip()
        if not pred or not gold:
            slots.append(None)
            continue
        key = (pred, gold)
        slot = index.get(key)
        if slot is None:
            slot = index[key] = len(pairs)
            pairs.append(key)
            multiplicity.append(0)
        multiplicity[slot] += 1
        slots.append(slot)

    bar: Any = None
    on_done = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(outputs), desc="grading", unit="sample")
        bar.update(len(outputs) - sum(multiplicity))  # outputs without a box: nothing to verify

        def on_done(slot: int) -> None:
            bar.update(multiplicity[slot])

    try:
        verdicts = _verify_pairs(pairs, timeout, workers, on_done=on_done)
    finally:
        if bar is not None:
            bar.close()
    return [False if slot is None else verdicts[slot] for slot in slots]
