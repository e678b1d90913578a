"""A hard wall-clock deadline for a call on the main thread: one one-shot ``setitimer`` alarm.

Used by :mod:`int_exp.grading.grader` around each comparison (parse + parse + verify). math-verify's own
timeouts use ``signal.alarm`` in whole seconds, one per parse and per comparison; this is a single
alarm whose exception math-verify does not catch.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(BaseException):
    """Raised by the alarm; a BaseException so that math-verify's ``except Exception`` misses it."""


def can_use_alarm() -> bool:
    """Whether :func:`call_with_deadline` can work here (the main thread, a platform with setitimer)."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


def call_with_deadline(fn: Callable[[], T], timeout: float | None) -> T:
    """``fn()`` under a one-shot SIGALRM timer (main thread only); raises DeadlineExceeded past it.

    The caller's SIGALRM handler is restored, and a timer it had armed is re-armed with the time it
    had left (at once if that ran out meanwhile).
    """
    if timeout is None or timeout <= 0:
        return fn()

    def on_alarm(signum, frame):
        raise DeadlineExceeded

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
