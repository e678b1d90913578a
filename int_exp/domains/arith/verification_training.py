"""The sandbox build's second phase: the trained solver learns the proposer's two turns
(:mod:`int_exp.domains.arith.verification`) while it keeps solving (``model.sandbox.verify_steps``;
off by default: docs/results/2026-12-04-sandbox-self-verification/).

Its attempts are the model's own failed samples (:func:`own_attempts`, drawn once after the first
phase) and perturbed solutions of pretrain problems of ``verify_min_ops..train_max_ops``
operations; batches hold one task each (verification with probability ``verify_share``, else
solving, 40% of it with the reference), under a fresh warmup + cosine schedule peaking at
``verify_lr_scale`` x the first phase's learning rates.
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


def fit_verification(cfg: Any, arith_cfg: Any, tokenizer: Any, model: Any, solve: list[tuple[list[int], int]],
                      device: str, model_dir: Path, bf16: bool) -> dict[str, Any]:
    """The second phase: teach the trained solver the proposer's two turns
    (:mod:`int_exp.domains.arith.verification`) while it keeps solving. Returns its statistics."""

    t0 = time.perf_counter()
    own = own_attempts(cfg, arith_cfg, model_dir)
    sample_seconds = time.perf_counter() - t0
    steps = int(cfg.verify_steps)
    rng = random.Random(f"int-exp/sandbox/verify/{int(cfg.seed)}")
    n_synthetic = steps * int(cfg.batch_size) // 2
    problems = generate_problems(with_steps(arith_cfg, cfg.verify_min_ops, cfg.train_max_ops), "pretrain", n_synthetic)
    pools = verification_examples(tokenizer, problems, own, prompt_config(cfg), rng)
    pools["solve"] = solve
    share = float(cfg.verify_share)
    weights = {"verify": share, "solve_ref": (1 - share) * 0.4, "solve": (1 - share) * 0.6}
    longest = max(len(ids) for ids, _ in pools["verify"])
    if longest > cfg.max_position_embeddings:
        raise ValueError(f"model.sandbox: a verification sequence has {longest} tokens > max_position_embeddings")
    from tqdm.auto import tqdm

    model.to(device).train()
    optimizers = make_optimizers(cfg, model, steps=steps, scale=float(cfg.verify_lr_scale))
    queues: dict[str, list[list[int]]] = {kind: [] for kind in weights}
    losses: dict[str, list[float]] = {kind: [] for kind in weights}
    pad_id = tokenizer.pad_token_id
    for _ in tqdm(range(steps), desc="sandbox: verification training", unit="step", dynamic_ncols=True,
                  mininterval=2.0):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(ids) for ids, _ in pools[kind]], int(cfg.batch_size), rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(train_step(model, optimizers, batch_tensors(batch, pad_id), device, bf16))
        if not int(cfg.num_threads):
            threads.rebalance()
    model.eval()
    return {"own_failures": len(own), "examples": {k: len(v) for k, v in pools.items()},
            "loss_last": {k: sum(v[-20:]) / max(1, len(v[-20:])) for k, v in losses.items()},
            "sample_seconds": round(sample_seconds, 1), "seconds": round(time.perf_counter() - t0, 1)}
