"""The sandbox build's second phase: the trained solver learns the proposer's two turns
(:mod:`int_exp.domains.arith.verification`) while it keeps solving (``model.sandbox.verify_steps``).

Its attempts are the model's own failed samples (:func:`own_attempts`, drawn once after the first
phase) and perturbed solutions of pretrain problems of ``verify_min_ops..train_max_ops``
operations; batches hold one task each (:func:`fit_verification`).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from int_exp.domains.arith.generator import check_solution, generate_problems, with_steps
from int_exp.domains.arith.sandbox_training import batch_tensors, make_optimizers, train_step
from int_exp.domains.arith.verification import prompt_config, verification_examples
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
               lr_scale: float) -> dict[str, float]:
    """``steps`` batches, each of one task drawn by ``weights``, under a fresh warmup + cosine
    schedule peaking at ``lr_scale`` x the first phase's rates. Returns each task's mean loss
    over its last 20 batches."""
    from tqdm.auto import tqdm

    optimizers = make_optimizers(cfg, model, steps=steps, scale=lr_scale)
    queues: dict[str, list[list[int]]] = {kind: [] for kind in weights}
    losses: dict[str, list[float]] = {kind: [] for kind in weights}
    for _ in tqdm(range(steps), desc=desc, unit="step", dynamic_ncols=True, mininterval=2.0):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(ids) for ids, _ in pools[kind]], int(cfg.batch_size), rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(train_step(model, optimizers, batch_tensors(batch, pad_id), device, bf16))
        if not int(cfg.num_threads):
            threads.rebalance()
    return {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4) for k, v in losses.items()}


def _chat_mix(cfg: Any, verify_key: str, mark_key: str) -> dict[str, float]:
    """A long phase's task weights: ``verify_key`` verification, ``mark_key`` marking, the rest
    solving, 40% of it turn 1 (with the reference)."""
    verify, mark = float(getattr(cfg, verify_key)), float(getattr(cfg, mark_key))
    solving = 1 - verify - mark
    if verify < 0 or mark < 0 or solving < 0:
        raise ValueError(f"model.sandbox: {verify_key} + {mark_key} must be two shares summing to at most 1, "
                         f"got {verify} + {mark}")
    return {"verify": verify, "mark": mark, "solve_ref": solving * 0.4, "solve": solving * 0.6}


def fit_verification(cfg: Any, arith_cfg: Any, tokenizer: Any, model: Any, solve: list[tuple[list[int], int]],
                      device: str, model_dir: Path, bf16: bool) -> dict[str, Any]:
    """The second phase: teach the trained solver the proposer's two turns
    (:mod:`int_exp.domains.arith.verification`) while it keeps solving. First
    ``verify_copy_steps`` batches copying random strings (80%; copy heads form there), then
    ``verify_pre_steps`` batches of short mark chats (80%), each with solving; then
    ``verify_steps`` batches of the long chats: ``verify_share``
    verification, ``verify_mark_share`` marking, the rest solving (40% of it with the
    reference); then ``verify_tail_steps`` batches of the same with more solving
    (``verify_tail_share``, ``verify_tail_mark_share``) at ``verify_tail_lr_scale``: the solver
    and turn 1 come back there (docs/results/2026-12-05-sandbox-verification-tail/). Returns its
    statistics."""

    long_mix = _chat_mix(cfg, "verify_share", "verify_mark_share")
    tail_mix = _chat_mix(cfg, "verify_tail_share", "verify_tail_mark_share")
    t0 = time.perf_counter()
    own = own_attempts(cfg, arith_cfg, model_dir)
    sample_seconds = time.perf_counter() - t0
    steps, pre_steps, tail_steps = int(cfg.verify_steps), int(cfg.verify_pre_steps), int(cfg.verify_tail_steps)
    rng = random.Random(f"int-exp/sandbox/verify/{int(cfg.seed)}")
    problems = generate_problems(with_steps(arith_cfg, cfg.verify_min_ops, cfg.train_max_ops), "pretrain",
                                 (steps + tail_steps) * int(cfg.batch_size) // 2)
    short = generate_problems(with_steps(arith_cfg, 2, 5), "pretrain", pre_steps * int(cfg.batch_size))
    copy_steps = int(cfg.verify_copy_steps)
    pools = verification_examples(tokenizer, problems, own, prompt_config(cfg), rng, short_problems=short,
                                  copies=copy_steps * int(cfg.batch_size))
    pools["solve"] = solve
    longest = max(len(ids) for kind in ("verify", "mark") for ids, _ in pools[kind])
    if longest > cfg.max_position_embeddings:
        raise ValueError(f"model.sandbox: a verification sequence has {longest} tokens > max_position_embeddings")
    model.to(device).train()
    rate = float(cfg.verify_lr_scale)
    loss_last = {}
    if copy_steps:
        loss_last["copy"] = _train_mix(cfg, model, pools, {"copy": 0.8, "solve": 0.2}, copy_steps, rng,
                                       tokenizer.pad_token_id, device, bf16, "sandbox: copying strings", rate)
    if pre_steps:
        loss_last["short"] = _train_mix(cfg, model, pools, {"mark_short": 0.8, "solve": 0.2}, pre_steps, rng,
                                        tokenizer.pad_token_id, device, bf16, "sandbox: short mark chats", rate)
    loss_last["long"] = _train_mix(cfg, model, pools, long_mix, steps, rng, tokenizer.pad_token_id, device, bf16,
                                   "sandbox: verification training", rate)
    if tail_steps:
        loss_last["tail"] = _train_mix(cfg, model, pools, tail_mix, tail_steps, rng, tokenizer.pad_token_id, device,
                                       bf16, "sandbox: verification tail", float(cfg.verify_tail_lr_scale))
    model.eval()
    return {"own_failures": len(own), "examples": {k: len(v) for k, v in pools.items()}, "loss_last": loss_last,
            "sample_seconds": round(sample_seconds, 1), "seconds": round(time.perf_counter() - t0, 1)}
