"""Grading: box extraction, math-verify verdicts, time limits, threads, the worker pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from int_exp.grading import answers_equivalent, extract_boxed, grade, grade_many
from int_exp.grading import grader as grading

# Too big to evaluate: math-verify/sympy spin on it until the time limit.
TOWER = r"9^{9^{9^{9^{9}}}}"
SLOW_LIMIT = 1.0  # per-pair time limit used in the timing tests
MARGIN = 1.5  # slack for a loaded machine


# ------------------------------------------------------------------------------------ extraction


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"The answer is $\boxed{72}$.", "72"),
        (r"$\boxed{\frac{1}{2}}$", r"\frac{1}{2}"),
        (r"\boxed{\frac{\sqrt{3}}{2}} and more", r"\frac{\sqrt{3}}{2}"),
        (r"first \boxed{1}, then \boxed{2}, finally \boxed{3}.", "3"),
        (r"\boxed {5}", "5"),
        (r"\fbox{7}", "7"),
        (r"\boxed{ 12 }", "12"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),
        (r"\boxed{\left\{ 1, 2 \right.}", r"\left\{ 1, 2 \right."),  # escaped brace does not count
        (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
        (r"\boxed{}", ""),
    ],
)
def test_extract_boxed_finds_last_box(text, expected):
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no box here, the answer is 5",
        r"\boxed{\frac{1}{2}",  # never closed
        r"\boxed{1} then a truncated \boxed{\frac{3}{",  # the last box is open: no answer
        r"\boxed 5",  # no braces
        "",
    ],
)
def test_extract_boxed_none(text):
    assert extract_boxed(text) is None


# ------------------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("0.5", r"\frac{1}{2}"),
        (r"\frac{1}{2}", "0.5"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        ("2/4", r"\frac12"),
        (r"\tfrac34", r"\dfrac{3}{4}"),
        ("72", "72"),
        ("72.0", "72"),
        ("1,000", "1000"),
        (r"\sqrt{50}", r"5\sqrt{2}"),
        ("1+x^2", "x^2+1"),
        (r"(3, \pi/2)", r"\left( 3, \frac{\pi}{2} \right)"),
        (r"\{2,1\}", r"\{1,2\}"),
        ("3,2,1", "1,2,3"),
        ("[1,2)", "[1, 2)"),
        (r"(-\infty, 0) \cup (1, \infty)", r"(-\infty,0)\cup(1,\infty)"),
        (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"),
        ("Evelyn", r"\text{Evelyn}"),
        ("C", r"\text{(C)}"),
        ("10", r"10\%"),
        ("x=5", "5"),
        (r"12\text{ apples}", "12"),
        (r"12\,000", "12000"),  # thin-space and braced-comma thousands
        ("12{,}000", "12000"),
        (r"1\,234\,567", "1234567"),
        ("12000", r"12\,000"),
        ("1 < x < 2", "(1,2)"),  # intervals written as inequalities
        (r"1 \le x < 2", "[1,2)"),
        (r"-3 \leq x \leq 3", "[-3,3]"),
        ("x > 3", r"(3,\infty)"),
        (r"x \geq \frac{1}{2}", r"\left[\frac{1}{2}, \infty\right)"),
        ("2 > x > 1", "(1,2)"),
        (r"x < 0 \text{ or } x > 1", r"(-\infty,0)\cup(1,\infty)"),
    ],
)
def test_equivalent_answers(pred, gold):
    assert answers_equivalent(pred, gold)
    assert grade(rf"Some reasoning... so the answer is $\boxed{{{pred}}}$.", gold)


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("2", "3"),
        (r"\frac{1}{3}", r"\frac{1}{2}"),
        ("0.333", r"\frac13"),  # too few digits for math-verify's rounding
        (r"(3, \pi)", r"\left( 3, \frac{\pi}{2} \right)"),
        ("(1,2]", "[1,2)"),
        (r"\{1,3\}", r"\{1,2\}"),
        (r"\text{odd}", r"\text{even}"),
        ("", "5"),
        ("1 < x < 2", "[1,2]"),
        ("x < 2", r"(2,\infty)"),
        (r"12\,500", "12000"),
        ("1 < x > 2", "(1,2)"),
    ],
)
def test_different_answers(pred, gold):
    assert not answers_equivalent(pred, gold)
    assert not grade(rf"$\boxed{{{pred}}}$", gold)


def test_last_box_wins():
    gold = r"\frac{1}{2}"
    assert grade(r"I first thought \boxed{3}, but actually \boxed{0.5}", gold)
    assert not grade(r"I first thought \boxed{0.5}, but actually \boxed{3}", gold)


def test_missing_or_unbalanced_box_is_wrong():
    assert not grade("The answer is 72.", "72")
    assert not grade("The answer is $72$", "72")
    assert not grade(r"The answer is \boxed{72", "72")
    assert grade(r"The answer is \boxed{\frac{144}{2}}", "72")  # nested braces are fine


def test_gold_is_compared_first_and_inequality_intervals_are_read_both_ways():
    """math-verify is asymmetric: with gold ``(1,2)`` it rejects the prediction ``1<x<2`` while
    gold ``1<x<2`` accepts ``(1,2)``. Grading puts the gold first and retries an inequality
    prediction as interval notation, so both directions are right."""
    import math_verify as mv

    def raw(gold, pred):
        return mv.verify(mv.parse(f"${gold}$"), mv.parse(f"${pred}$"))

    assert not raw("(1,2)", "1<x<2") and raw("1<x<2", "(1,2)")
    assert answers_equivalent("1<x<2", "(1,2)") and answers_equivalent("(1,2)", "1<x<2")
    assert grade(r"\boxed{1<x<2}", "(1,2)") and grade(r"\boxed{(1,2)}", "1<x<2")


def test_non_string_gold_is_converted():
    assert grade(r"\boxed{72}", 72)
    assert grade_many([r"\boxed{72}"], [72]) == [True]


# ---------------------------------------------------------------------------------- time limits


def test_pathological_answer_times_out_on_main_thread():
    start = time.monotonic()
    assert grade(rf"\boxed{{{TOWER}}}", "5", timeout=SLOW_LIMIT) is False
    elapsed = time.monotonic() - start
    assert SLOW_LIMIT * 0.8 <= elapsed < SLOW_LIMIT + MARGIN


def test_callers_alarm_is_kept():
    """A SIGALRM handler and timer the caller had set survive grading on the main thread."""
    fired = []

    def handler(signum, frame):
        fired.append(signum)

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        assert grade(rf"\boxed{{{TOWER}}}", "5", timeout=0.3) is False
        assert grade(r"\boxed{0.5}", r"\frac12")
        left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
        assert 98.0 < left <= 100.0
        assert signal.getsignal(signal.SIGALRM) is handler
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # the caller's handler is back in place
        time.sleep(0.3)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_grade_off_the_main_thread():
    """math-verify's own signal-based timeouts raise off the main thread; grade() must not."""
    jobs = [
        (r"\boxed{\dfrac{1}{2}}", "0.5"),
        (r"\boxed{3}", "4"),
        (r"no box", "4"),
        (rf"\boxed{{{TOWER}}}", "5"),
    ]
    grade_many(*_mixed_batch(8))  # warm the worker pool: its start-up is not what is timed
    with ThreadPoolExecutor(max_workers=2) as pool:
        start = time.monotonic()
        futures = [pool.submit(grade, out, gold, timeout=SLOW_LIMIT) for out, gold in jobs]
        verdicts = [f.result(timeout=60) for f in futures]
        elapsed = time.monotonic() - start
    assert verdicts == [True, False, False, False]
    assert elapsed < SLOW_LIMIT + MARGIN
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", answers_equivalent("0.5", r"\frac12")))
    t.start()
    t.join(60)
    assert result == {"v": True}


# ------------------------------------------------------------------------------------ grade_many


def _mixed_batch(n_problems: int = 12) -> tuple[list[str], list[str]]:
    outputs, golds = [], []
    for i in range(n_problems):
        gold = rf"\frac{{{i + 1}}}{{2}}"
        for out in [
            rf"so $\boxed{{{(i + 1) / 2}}}$",  # right, as a decimal
            rf"\boxed{{\dfrac{{{2 * (i + 1)}}}{{4}}}}",  # right, unreduced
            rf"\boxed{{{i + 7}}}",  # wrong
            "I give up",  # no box
            rf"\boxed{{{i + 7}}} no, \boxed{{\frac{{{i + 1}}}{{2}}}}",  # last box right
        ]:
            outputs.append(out)
            golds.append(gold)
    return outputs, golds


def test_grade_many_matches_grade_in_process_and_in_pool():
    outputs, golds = _mixed_batch()
    expected = [grade(o, g) for o, g in zip(outputs, golds)]
    assert expected == [True, True, False, False, True] * 12
    # 12 problems x 4 distinct pairs = 48 >= IN_PROCESS_MAX_PAIRS: worker pool.
    assert grade_many(outputs, golds, workers=2) == expected
    # 2 problems: in-process.
    assert grade_many(outputs[:10], golds[:10]) == expected[:10]
    assert grade_many(outputs, golds, progress=True) == expected


def test_grade_many_length_mismatch():
    with pytest.raises(ValueError, match=r"3 outputs.*2 golds"):
        grade_many(["a", "b", "c"], ["1", "2"])


def test_grade_many_empty():
    assert grade_many([], []) == []


def test_grade_many_verifies_each_distinct_pair_once(monkeypatch):
    calls = []
    real = grading._compare

    def counting(pred, gold):
        calls.append((pred, gold))
        return real(pred, gold)

    monkeypatch.setattr(grading, "_compare", counting)
    # 3 problems x 64 samples, 2 distinct boxed answers each (+ unboxed samples, never verified).
    outputs, golds = [], []
    for gold, right, wrong in [("4", "4", "5"), (r"\frac12", "0.5", "2"), ("7", "7.0", "8")]:
        for j in range(64):
            outputs.append([rf"\boxed{{{right}}}", rf"\boxed{{{wrong}}}", "no box"][j % 3])
            golds.append(gold)
    verdicts = grade_many(outputs, golds)
    assert len(calls) == 6 and len(set(calls)) == 6
    assert verdicts == [j % 3 == 0 for _ in range(3) for j in range(64)]


def test_grade_many_sends_distinct_pairs_to_the_pool(monkeypatch):
    seen = []
    real = grading._Pool.run

    def spy(self, pairs, *args, **kwargs):
        seen.append(list(pairs))
        return real(self, pairs, *args, **kwargs)

    monkeypatch.setattr(grading._Pool, "run", spy)
    outputs = [rf"\boxed{{{i % 40}}}" for i in range(640)]  # 40 distinct answers, 16 copies each
    golds = ["3"] * 640
    verdicts = grade_many(outputs, golds)
    assert [len(p) for p in seen] == [40]
    assert verdicts == [i % 40 == 3 for i in range(640)]


def test_grade_many_pathological_pair_in_pool():
    outputs, golds = _mixed_batch(10)
    grade_many(outputs, golds)  # warm the pool: start-up is not what is timed here
    outputs.append(rf"\boxed{{{TOWER}}}")
    golds.append("5")
    start = time.monotonic()
    verdicts = grade_many(outputs, golds, timeout=SLOW_LIMIT)
    elapsed = time.monotonic() - start
    assert verdicts == [True, True, False, False, True] * 10 + [False]
    assert elapsed < SLOW_LIMIT + MARGIN


def test_stuck_worker_is_killed_and_replaced(monkeypatch):
    """A worker that stops answering (here: SIGSTOP) is killed past the limit; grading goes on."""
    monkeypatch.setattr(grading, "KILL_GRACE", 0.5)
    grading.shutdown_pool()  # start from exactly two workers
    outputs = [rf"\boxed{{{i}}}" for i in range(40)]
    golds = [str(i) for i in range(40)]
    assert grade_many(outputs, golds, workers=2) == [True] * 40  # pool with 2 ready workers
    pool = grading._get_pool()
    for worker in pool.workers:  # one may not have said "ready" yet if the other did all the work
        if not worker.ready:
            assert worker.conn.poll(60) and worker.conn.recv()[0] == "ready"
            worker.ready = True
    stopped = [w.pid for w in pool.workers]
    assert len(stopped) == 2
    for pid in stopped:
        os.kill(pid, signal.SIGSTOP)
    start = time.monotonic()
    verdicts = grade_many(outputs, golds, workers=2, timeout=0.5)
    elapsed = time.monotonic() - start
    # The pairs handed to the stopped workers count False; fresh workers grade the rest.
    assert verdicts.count(False) == 2 and verdicts.count(True) == 38
    assert elapsed < 0.5 + 0.5 + 30  # limit + grace, plus starting two replacement workers
    assert not set(stopped) & {w.pid for w in pool.workers}
    for pid in stopped:  # killed and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_shutdown_pool_then_reuse():
    outputs = [rf"\boxed{{{i}}}" for i in range(40)]
    golds = [str(i) for i in range(40)]
    assert grade_many(outputs, golds) == [True] * 40
    pids = [w.pid for w in grading._get_pool().workers]
    grading.shutdown_pool()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert grade_many(outputs, golds) == [True] * 40  # a new pool starts on demand


def test_import_is_light_and_first_grade_is_not_charged_for_imports():
    """Importing pulls in no heavy module; the first grade's imports don't count against its limit."""
    code = (
        "import sys, int_exp.grading as g; "
        "print(sorted(m for m in ('torch', 'transformers', 'mlflow', 'math_verify', 'sympy') if m in sys.modules)); "
        "print(g.grade(r'\\boxed{0.5}', r'\\frac12', timeout=0.05))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.split() == ["[]", "True"]


def test_math500_references_are_right_and_shuffled_answers_wrong():
    """MATH-500's own reference solutions (last box vs the answer field) are all graded right, and
    none is right against another problem's answer (a fixed derangement)."""
    import random

    from int_exp.domains.math.sources import read_builtin

    table = read_builtin("math500", "test")
    solutions, answers = list(table["reference_solution"]), [str(a) for a in table["answer"]]
    assert len(solutions) == 500
    assert sum(grade_many(solutions, answers)) == 500
    order = list(range(500))
    random.Random(0).shuffle(order)
    shuffled = [answers[j] for j in order]
    pairs = [(s, a) for i, (s, a) in enumerate(zip(solutions, shuffled)) if answers[i] != a]
    false_positives = [p for p, ok in zip(pairs, grade_many(*map(list, zip(*pairs)))) if ok]
    assert false_positives == []
