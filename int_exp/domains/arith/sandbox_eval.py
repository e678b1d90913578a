"""Sampled accuracy of a sandbox model by difficulty, and the shape of its failures.

Used for the sandbox model's card (:func:`int_exp.domains.arith.sandbox_model.train_sandbox_model`) and by
``benchmarks/sandbox_calibration.py``. Sampling goes through the real generation path (the ``hf``
backend), grading through the arith step checker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from int_exp.backends.base import SamplingParams
from int_exp.domains.arith.generator import with_steps
from int_exp.domains.arith.problem import format_value
from int_exp.runtime.hardware import thread_count, torch_threads

__all__ = ["EVAL_BANDS", "evaluate_sandbox", "evaluate_verification", "sample_solutions"]

# Difficulty bands used for the card and the calibration: operations per problem (arith.difficulty).
EVAL_BANDS = {"easy": (1, 3), "medium": (4, 5), "hard": (6, 8)}


def sample_solutions(model_dir: str | Path, chats: Sequence[list[dict[str, str]]], params: Any, *,
                     batch_size: int = 64) -> list[list[str]]:
    """``params.n`` samples per chat (``params``: SamplingParams) through the real generation
    path (the ``hf`` backend on CPU)."""
    from int_exp.backends import make_backend
    from int_exp.config import BackendConfig

    opts = BackendConfig(name="hf", batch_size=batch_size, device="cpu", isolate=False)
    backend = make_backend(opts, str(model_dir), dtype="float32")
    try:
        return backend.generate(list(chats), params, desc="sandbox: sampling")
    finally:
        backend.close()


def evaluate_sandbox(
    model_dir: str | Path,
    arith_cfg: Any,
    *,
    n_problems: int = 32,
    n_samples: int = 1,
    temperature: float = 0.8,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    bands: Mapping[str, tuple[int, int]] | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Sampled accuracy of the model in ``model_dir`` on held-out arith ``test`` problems.

    For each band of :data:`EVAL_BANDS` (operations per problem), the first ``n_problems`` test
    problems, ``n_samples`` samples each. Returns ``{"summary": {band: {...}}, "rows": [...]}``:
    per band the accuracy, and for failures where the first error falls (``first_error_frac``:
    the 1-based wrong step over the attempt's number of steps) and whether the oracle could
    diagnose it as a wrong or missing step rather than unreadable text (``diagnosable``).
    """
    bands = dict(bands or EVAL_BANDS)
    problems = _band_problems(arith_cfg, bands, n_problems)
    max_tokens = max(len(p.detailed()) for _, p in problems) * 3 // 2 + 16
    chats = [[{"role": "user", "content": p.text}] for _, p in problems]
    params = SamplingParams(n=n_samples, temperature=temperature, top_p=top_p, top_k=top_k, max_tokens=max_tokens,
                            seed=seed)
    with torch_threads(thread_count()):
        outputs = sample_solutions(model_dir, chats, params, batch_size=batch_size)

    rows = [_grade_sample(band, p, text) for (band, p), samples in zip(problems, outputs) for text in samples]
    summary = {band: _band_summary(bands[band], [r for r in rows if r["band"] == band]) for band in bands}
    return {"summary": summary, "rows": rows}


def evaluate_verification(
    model_dir: str | Path,
    arith_cfg: Any,
    prompt: Mapping[str, Any],
    *,
    n_problems: int = 32,
    n_samples: int = 1,
    temperature: float = 0.8,
    proposer_temperature: float = 0.7,
    seed: int = 0,
    bands: Mapping[str, tuple[int, int]] | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """The asymmetry, by difficulty: how often the model solves held-out problems (attempts as
    :func:`evaluate_sandbox` samples them) against how often, shown the reference, it finds and
    fixes the first error of its own failed attempts, judged against the oracle.

    The proposer runs as the ``propose`` stage does: turn 1 (solve with the reference, sampled)
    then turn 2 (verify the numbered attempt), one sample each, at ``proposer_temperature`` with
    top-p 0.8 and top-k 20 (``intervention.sampling``'s defaults). Per band: ``solve_rate``, and
    over the failures the shares ``parsed``, ``empty``, ``right_location``, ``right_content``,
    ``right`` (:mod:`int_exp.interventions.judging`) and ``leaked``.
    """
    from int_exp.domains.arith.oracle import oracle_intervention
    from int_exp.domains.arith.problem import parse_problem
    from int_exp.domains.math import DOMAIN as MATH  # arith's answer check (not the registry: no cycle)
    from int_exp.interventions import leaks_answer, parse_intervention, proposer_turn1, proposer_turn2
    from int_exp.interventions.judging import judge_proposal, summarize
    from int_exp.interventions.steps import split_steps

    solved = evaluate_sandbox(model_dir, arith_cfg, n_problems=n_problems, n_samples=n_samples,
                              temperature=temperature, seed=seed, bands=bands, batch_size=batch_size)
    failures = [r for r in solved["rows"] if not r["correct"]]
    problems = [parse_problem(r["problem"]) for r in failures]
    params = SamplingParams(n=1, temperature=proposer_temperature, top_p=0.8, top_k=20, max_tokens=448, seed=seed)
    turn1 = [proposer_turn1(p.text, p.terse(), prompt) for p in problems]
    with torch_threads(thread_count()):
        answers = sample_solutions(model_dir, turn1, params, batch_size=batch_size)
        turn2 = [proposer_turn2(chat, (answer or [""])[0], r["attempt"], format_value(p.answer), prompt)[0]
                 for chat, answer, r, p in zip(turn1, answers, failures, problems)]
        outputs = sample_solutions(model_dir, turn2, params, batch_size=batch_size)
    equivalent = MATH.answers_equivalent
    for r, p, out in zip(failures, problems, outputs):
        text = (out or [""])[0]
        n_steps = len(split_steps(r["attempt"]))
        r["proposal"] = text
        r["judgement"] = judge_proposal(text, oracle_intervention(p, r["attempt"]), n_steps)
        got = parse_intervention(text, n_steps)
        r["leaked"] = got is not None and leaks_answer(got["content"], format_value(p.answer), equivalent)
    summary = {}
    for band, band_summary in solved["summary"].items():
        rows = [r for r in failures if r["band"] == band]
        judged = summarize(r["judgement"] for r in rows)
        summary[band] = {"solve_rate": band_summary["accuracy"], **judged,
                         "leaked": sum(r["leaked"] for r in rows) / max(1, len(rows))}
    return {"summary": summary, "rows": failures}


def _band_problems(arith_cfg: Any, bands: Mapping[str, tuple[int, int]], n_problems: int) -> list[tuple[str, Any]]:
    """``(band, problem)`` for the first ``n_problems`` test problems of each band, band by band."""
    from int_exp.domains.arith.generator import generate_problems

    problems = []
    for band, (lo, hi) in bands.items():
        for p in generate_problems(with_steps(arith_cfg, lo, hi), "test", n_problems):
            problems.append((band, p))
    return problems


def _grade_sample(band: str, p: Any, text: str) -> dict[str, Any]:
    """One sample's row: its verdict and, for a failure, where and how it went wrong."""
    from int_exp.domains.arith.generator import check_solution, diagnose
    from int_exp.interventions.steps import split_steps

    step, reason = check_solution(p, text)
    row = {"band": band, "num_ops": p.num_steps, "problem": p.text, "attempt": text,
           "correct": step is None, "first_error": step, "reason": reason}
    if step is not None:
        n_steps = len(split_steps(text))
        row["num_attempt_steps"] = n_steps
        row["first_error_frac"] = step / max(1, n_steps)
        row["unreadable"] = "cannot be read" in reason
        row["diagnosable"] = diagnose(p, text).fix_content is not None and not row["unreadable"]
        row["kind"] = _error_kind(reason)
    return row


def _band_summary(ops: tuple[int, int], sub: list[dict[str, Any]]) -> dict[str, Any]:
    """A band's summary from its rows ``sub``: accuracy, failures and the failures' shape."""
    fails = [r for r in sub if not r["correct"]]
    return {
        "ops": list(ops),
        "samples": len(sub),
        "accuracy": sum(r["correct"] for r in sub) / max(1, len(sub)),
        "failures": len(fails),
        "diagnosable": sum(r["diagnosable"] for r in fails) / len(fails) if fails else None,
        "mean_first_error_frac": sum(r["first_error_frac"] for r in fails) / len(fails) if fails else None,
    }


def _error_kind(reason: str) -> str:
    if "cannot be read" in reason:
        return "unreadable"
    if "wrong arithmetic" in reason:
        return "arithmetic"
    if "carries" in reason or "continues from" in reason:
        return "carried value"
    if "wrong operation or operand" in reason:
        return "operation/operand"
    if "boxes" in reason:
        return "early or wrong answer"
    if "no answer" in reason or "stops after" in reason or "empty" in reason:
        return "no answer"
    if "start value" in reason:
        return "start value"
    if "after the last operation" in reason:
        return "extra operation"
    return "other"
