"""The sandbox build's second phase: the trained solver learns the proposer's two turns
(:mod:`int_exp.domains.arith.verification`) while it keeps solving (``model.sandbox.verify_steps``).

Its attempts are perturbed solutions of pretrain problems of ``verify_min_ops..train_max_ops``
operations and, in its last phase, the model's own failed samples (:func:`own_attempts`, drawn
from the model as it is then); batches hold one task each (:func:`fit_verification`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from int_exp.domains.arith.generator import check_solution, generate_problems, with_steps
from int_exp.domains.arith.sandbox_training import batch_tensors, make_optimizers, train_step
from int_exp.domains.arith.verification import (
    encode_chat,
    prompt_config,
    verification_chat,
    verification_examples,
    verification_target,
)
from int_exp.models.batching import length_batches
from int_exp.runtime import threads

__all__ = ["fit_verification", "own_attempts"]


def own_attempts(cfg: Any, arith_cfg: Any, model_dir: Path) -> list[tuple[Any, str]]:
    """The model's failed samples (temperature 1, as rollouts) on ``verify_own_problems``
    pretrain problems of ``verify_min_ops..train_max_ops`` operations: the verification
    phase's attempts whose errors are the model's own."""
    from int_exp.backends.base import SamplingParams
    from int_exp.domains.arith.sandbox_eval import sample_solutions

    problems = generate_problems(with_steps(arith_cfg, cfg.verify_min_ops, cfg.train_max_ops), "pretrain",
                                 int(cfg.verify_own_problems))
    max_tokens = max(len(p.detailed()) for p in problems) * 3 // 2 + 16
    params = SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=0, max_tokens=max_tokens, seed=int(cfg.seed))
    outputs = sample_solutions(model_dir, [[{"role": "user", "content": p.text}] for p in problems], params,
                               batch_size=128)
    return [(p, text) for p, samples in zip(problems, outputs) for text in samples
            if check_solution(p, text)[0] is not None]


def _train_mix(cfg: Any, model: Any, pools: dict[str, list], weights: dict[str, float], steps: int,
               rng: random.Random, pad_id: int, device: str, bf16: bool, desc: str,
               lr_scale: float, stop: Callable[[int], bool] | None = None) -> tuple[dict[str, float], int]:
    """``steps`` batches, each of one task drawn by ``weights``, under a fresh warmup + cosine
    schedule peaking at ``lr_scale`` x the first phase's rates; ``stop(step)``, called every
    ``verify_check_every`` steps, ends the phase early when true. Returns each task's mean loss
    over its last 20 batches and the steps taken."""
    from tqdm.auto import tqdm

    optimizers = make_optimizers(cfg, model, steps=steps, scale=lr_scale)
    queues: dict[str, list[list[int]]] = {kind: [] for kind in weights}
    losses: dict[str, list[float]] = {kind: [] for kind in weights}
    every, step = max(1, int(cfg.verify_check_every)), 0
    for step in tqdm(range(1, steps + 1), desc=desc, unit="step", dynamic_ncols=True, mininterval=2.0):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(ids) for ids, _ in pools[kind]], int(cfg.batch_size), rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(train_step(model, optimizers, batch_tensors(batch, pad_id), device, bf16))
        if not int(cfg.num_threads):
            threads.rebalance()
        if stop is not None and step % every == 0 and step < steps and stop(step):
            break
    return {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4) for k, v in losses.items()}, step


def _chat_mix(cfg: Any, verify_key: str, mark_key: str, own_key: str | None = None) -> dict[str, float]:
    """A long phase's task weights: ``verify_key`` verification of perturbed attempts,
    ``mark_key`` marking, ``own_key`` verification of the model's own failures, the rest
    solving, 40% of it turn 1 (with the reference)."""
    keys = [verify_key, mark_key] + ([own_key] if own_key else [])
    shares = [float(getattr(cfg, key)) for key in keys]
    solving = 1 - sum(shares)
    if min(shares) < 0 or solving < 0:
        raise ValueError(f"model.sandbox: {' + '.join(keys)} must be shares summing to at most 1, "
                         f"got {' + '.join(str(v) for v in shares)}")
    return {"verify": shares[0], "mark": shares[1], **({"own": shares[2]} if own_key else {}),
            "solve_ref": solving * 0.4, "solve": solving * 0.6}


def _own_pool(cfg: Any, arith_cfg: Any, tokenizer: Any, model_dir: Path) -> tuple[list, int]:
    """Verification examples on the saved model's own failures (those the log can describe)
    and the number of failures sampled."""
    own = own_attempts(cfg, arith_cfg, model_dir)
    prompt = prompt_config(cfg)
    targets = [(problem, attempt, verification_target(problem, attempt)) for problem, attempt in own]
    return [encode_chat(tokenizer, verification_chat(p, a, prompt), t) for p, a, t in targets if t], len(own)


def _hard_at_least(hard_accuracy: Callable[[], float], target: float, record: list) -> Callable[[int], bool]:
    """A ``stop`` for :func:`_train_mix`: true once the card's hard accuracy reaches ``target``;
    each reading goes to ``record``."""

    def stop(step: int) -> bool:
        record.append({"step": step, "hard": hard_accuracy()})
        return record[-1]["hard"] >= target

    return stop


def fit_verification(cfg: Any, arith_cfg: Any, tokenizer: Any, model: Any, solve: list[tuple[list[int], int]],
                     device: str, model_dir: Path, bf16: bool, save: Callable[[], None],
                     hard_accuracy: Callable[[], float] | None) -> dict[str, Any]:
    """The second phase: teach the trained solver the proposer's two turns
    (:mod:`int_exp.domains.arith.verification`) while it keeps solving. First
    ``verify_copy_steps`` batches copying random strings (80%; copy heads form there), then
    ``verify_pre_steps`` batches of short mark chats (80%), each with solving; then
    ``verify_steps`` batches of the long chats: ``verify_share`` verification,
    ``verify_mark_share`` marking, the rest solving (40% of it with the reference); then
    ``verify_tail_steps`` batches of the same with more solving (``verify_tail_share``,
    ``verify_tail_mark_share``) at ``verify_tail_lr_scale``, ended early once the card's hard
    accuracy reaches ``verify_tail_stop_hard`` (the solver comes back there, and a solver that
    solves nearly everything leaves InT and GRPO nothing to fix); then ``verify_own_steps``
    batches where ``verify_own_share`` are verification chats on the model's own failures,
    sampled from it as it is then (docs/results/2026-12-05-sandbox-verification-tail/, run L).
    ``save()`` writes the model to ``model_dir`` for sampling; ``hard_accuracy()`` saves it and
    reads the card's hard accuracy (None: no card, no stop). Returns its statistics."""
    mixes = {"long": _chat_mix(cfg, "verify_share", "verify_mark_share"),
             "tail": _chat_mix(cfg, "verify_tail_share", "verify_tail_mark_share"),
             "own": _chat_mix(cfg, "verify_own_phase_share", "verify_own_phase_mark_share", "verify_own_share")}
    t0 = time.perf_counter()
    steps, pre_steps, tail_steps = int(cfg.verify_steps), int(cfg.verify_pre_steps), int(cfg.verify_tail_steps)
    own_steps, copy_steps = int(cfg.verify_own_steps), int(cfg.verify_copy_steps)
    rng = random.Random(f"int-exp/sandbox/verify/{int(cfg.seed)}")
    problems = generate_problems(with_steps(arith_cfg, cfg.verify_min_ops, cfg.train_max_ops), "pretrain",
                                 (steps + tail_steps + own_steps) * int(cfg.batch_size) // 2)
    short = generate_problems(with_steps(arith_cfg, 2, 5), "pretrain", pre_steps * int(cfg.batch_size))
    pools = verification_examples(tokenizer, problems, [], prompt_config(cfg), rng, short_problems=short,
                                  copies=copy_steps * int(cfg.batch_size))
    pools["solve"] = solve
    _check_length(cfg, pools)
    model.to(device).train()
    rate, tail_rate, pad = float(cfg.verify_lr_scale), float(cfg.verify_tail_lr_scale), tokenizer.pad_token_id
    loss_last, steps_taken, tail_checks, own_stats = {}, {}, [], {}

    def phase(name: str, mix: dict[str, float], n: int, desc: str, lr: float, stop: Any = None) -> None:
        if n:
            loss_last[name], steps_taken[name] = _train_mix(cfg, model, pools, mix, n, rng, pad, device, bf16, desc,
                                                            lr, stop)

    phase("copy", {"copy": 0.8, "solve": 0.2}, copy_steps, "sandbox: copying strings", rate)
    phase("short", {"mark_short": 0.8, "solve": 0.2}, pre_steps, "sandbox: short mark chats", rate)
    phase("long", mixes["long"], steps, "sandbox: verification training", rate)
    stop = None
    if float(cfg.verify_tail_stop_hard) > 0 and hard_accuracy is not None:
        stop = _hard_at_least(hard_accuracy, float(cfg.verify_tail_stop_hard), tail_checks)
    phase("tail", mixes["tail"], tail_steps, "sandbox: verification tail", tail_rate, stop)
    if own_steps:
        save()
        t_own = time.perf_counter()
        pools["own"], failures = _own_pool(cfg, arith_cfg, tokenizer, model_dir)
        own_stats = {"own_failures": failures, "sample_seconds": round(time.perf_counter() - t_own, 1)}
        _check_length(cfg, pools)
        phase("own", mixes["own"] if pools["own"] else mixes["tail"], own_steps, "sandbox: own failures",
              tail_rate)
    model.eval()
    return {**own_stats, "examples": {k: len(v) for k, v in pools.items()}, "loss_last": loss_last,
            "steps": steps_taken, "tail_checks": tail_checks, "seconds": round(time.perf_counter() - t0, 1)}


def _check_length(cfg: Any, pools: dict[str, list]) -> None:
    longest = max(len(ids) for kind in ("verify", "mark", "own") for ids, _ in pools.get(kind, []))
    if longest > cfg.max_position_embeddings:
        raise ValueError(f"model.sandbox: a verification sequence has {longest} tokens > max_position_embeddings")
