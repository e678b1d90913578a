"""Answer grading with math-verify: last ``\\boxed{}`` of an output against a gold answer.

Public API:

* :func:`extract_boxed` -- content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (brace matched).
* :func:`grade` -- one output against one gold answer.
* :func:`grade_many` -- a batch, deduplicated on distinct (prediction, gold) pairs and graded in a
  reusable pool of worker processes.
* :func:`answers_equivalent` -- two bare answer strings (no box needed).
* :func:`shutdown_pool` -- stop the worker processes (:mod:`int_exp.grading.pool`).

Every comparison is ``verify(parse(gold), parse(pred))`` -- gold first, since math-verify is not
symmetric (e.g. gold ``(1,2)`` vs prediction ``1<x<2`` is False, the other way round True) -- with
both strings wrapped as ``$...$`` so that math-verify reads them as LaTeX (``\\boxed{...}`` wrapping
loses ``10\\%`` == ``10``). Each comparison has a hard, wall-clock time limit covering parsing and
verification together; a comparison that runs past it, or raises, counts as False.

How the time limit is enforced: math-verify's own timeouts use ``signal.alarm`` (whole seconds,
one alarm for each parse and each comparison, main thread only, raising ``ValueError`` elsewhere).
They are switched off here (``parsing_timeout=None``, ``timeout_seconds=None``) and replaced by:

* on the main thread: a single one-shot ``setitimer`` alarm (:mod:`int_exp.grading.deadline`)
  around parse + parse + verify, which raises an exception that math-verify does not catch; an
  alarm the caller had armed is saved and re-armed afterwards;
* elsewhere (other threads, large batches): worker processes (:mod:`int_exp.grading.pool`), each
  a fresh interpreter enforcing the same alarm on its own main thread and watched by the parent,
  which kills and replaces a worker that has not answered ``timeout + KILL_GRACE`` seconds after
  it was handed a pair.

Importing this module is cheap: math-verify is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing.connection
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

from int_exp.grading.answers import extract_boxed
from int_exp.grading.deadline import DeadlineExceeded, call_with_deadline, can_use_alarm
from int_exp.grading.forms import THOUSANDS_SEP, has_inequality, inequality_as_interval
from int_exp.grading.pool import (
    WORKER_START_TIMEOUT,  # noqa: F401 - still importable from here
    WorkerPool,
    default_workers,
    get_pool,
    shutdown_pool,
)

__all__ = ["answers_equivalent", "extract_boxed", "grade", "grade_many", "shutdown_pool"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""Seconds allowed for one (prediction, gold) comparison, parsing included."""

IN_PROCESS_MAX_PAIRS = 32
"""On the main thread, batches with fewer distinct pairs than this are graded in-process."""

KILL_GRACE = 2.0
"""Extra seconds the parent waits for a worker past the time limit before killing it."""

# The pool under the private names tests and benchmarks reach for (grading._Pool.run, _get_pool()).
_Pool = WorkerPool
_get_pool = get_pool


# --------------------------------------------------------------------------------------------
# In-process comparison (main thread only, under a hard deadline: int_exp.grading.deadline)
# --------------------------------------------------------------------------------------------


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
    """math-verify verdict for a bare prediction against a bare gold answer, gold first.

    Before comparing: thousands separators (``12\\,000``) are removed; a prediction written as
    inequalities (``1 < x < 2``) that math-verify does not match to an interval gold is retried as
    interval notation (``(1, 2)``).
    """
    pred, gold = THOUSANDS_SEP.sub("", pred), THOUSANDS_SEP.sub("", gold)
    if not pred or not gold:
        return False
    mv = _math_verify()
    gold_parsed = _parse_answer(gold)
    if not gold_parsed:
        return False
    pred_parsed = _parse_answer(pred)
    if pred_parsed and mv.verify(gold_parsed, pred_parsed, timeout_seconds=None):
        return True
    interval = inequality_as_interval(pred) if has_inequality(pred) else None
    if interval is None:
        return False
    interval_parsed = _parse_answer(interval)
    return bool(interval_parsed) and bool(mv.verify(gold_parsed, interval_parsed, timeout_seconds=None))


def _verify_in_process(pred: str, gold: str, timeout: float | None) -> bool:
    """Verdict for one pair on the main thread: False on timeout or on any error."""
    try:
        _math_verify()  # import and warm-up are not charged to the pair
        return call_with_deadline(lambda: _compare(pred, gold), timeout)
    except DeadlineExceeded:
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


def _worker_entry(fd: int) -> None:
    """Entry point of a worker interpreter started by :mod:`int_exp.grading.pool`."""
    _worker_main(multiprocessing.connection.Connection(fd))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _verify_pairs(
    pairs: Sequence[tuple[str, str]],
    timeout: float,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[bool]:
    """Verdicts for distinct (prediction, gold) pairs: in-process for a few on the main thread,
    else in the worker pool."""
    if not pairs:
        return []
    if can_use_alarm() and len(pairs) < IN_PROCESS_MAX_PAIRS:
        out = []
        for i, (pred, gold) in enumerate(pairs):
            out.append(_verify_in_process(pred, gold, timeout))
            if on_done is not None:
                on_done(i)
        return out
    n_workers = workers if workers is not None else default_workers(len(pairs))
    return get_pool().run(pairs, timeout, n_workers, on_done, kill_grace=KILL_GRACE)


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


def _distinct_pairs(
    outputs: Sequence[str], golds: Sequence[str]
) -> tuple[list[tuple[str, str]], list[int], list[int | None]]:
    """The distinct (prediction, gold) pairs, how many outputs share each, and each output's pair
    (None: no box or no gold, nothing to verify)."""
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
    return pairs, multiplicity, slots


def _progress_bar(total: int, multiplicity: list[int]) -> tuple[Any, Callable[[int], None]]:
    """A tqdm bar counting samples, and the ``on_done(slot)`` callback that advances it."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="grading", unit="sample")
    bar.update(total - sum(multiplicity))  # outputs without a box: nothing to verify

    def on_done(slot: int) -> None:
        bar.update(multiplicity[slot])

    return bar, on_done


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
    pairs, multiplicity, slots = _distinct_pairs(outputs, golds)
    bar, on_done = _progress_bar(len(outputs), multiplicity) if progress else (None, None)
    try:
        verdicts = _verify_pairs(pairs, timeout, workers, on_done=on_done)
    finally:
        if bar is not None:
            bar.close()
    return [False if slot is None else verdicts[slot] for slot in slots]
