"""The arith domain's config sections: ``data.arith`` (the problems) and ``model.sandbox`` (the
builtin sandbox model). Plain dataclasses: the root schema adds them (int_exp.domains.schema)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArithConfig:
    """Synthetic multi-step arithmetic (int_exp/domains/arith/generator.py)."""

    min_steps: int = 3  # operations per problem (the detailed reference has 2 more steps)
    max_steps: int = 6
    max_operand: int = 99  # + and - operands: 1..max_operand (also the start value's range)
    max_multiplier: int = 9  # * and / operands: 2..max_multiplier (division is exact)
    max_value: int = 9999  # no running value exceeds this in size
    allow_negative: bool = False  # let running values go below zero
    operations: list[str] = field(default_factory=lambda: ["+", "-", "*"])  # any of + - * /
    reference_style: str = "detailed"  # detailed | terse (high-level, few steps: off-policy)
    train_size: int = 2000
    test_size: int = 200
    seed: int = 0  # generator seed (splits stay disjoint for any seed: hash of the problem text)


@dataclass
class SandboxModelConfig:
    """A small transformer trained from scratch on the arith domain (see int_exp/sandbox)."""

    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4  # head_dim = hidden_size / num_heads must be >= 32 (vLLM's CPU attention)
    intermediate_size: int = 512
    max_position_embeddings: int = 1280
    # Training data: problems of the arith `pretrain` split with train_min_ops..train_max_ops
    # operations; operands, operations and seed come from data.arith (calibrated with
    # max_operand 9, max_multiplier 3, max_value 99: int_exp.domains.arith.sandbox_model.SANDBOX_ARITH).
    train_problems: int = 20000
    train_min_ops: int = 1
    train_max_ops: int = 8  # 5 (hard unseen) leaves hard at 0%: see int_exp/domains/arith/sandbox_model.py
    train_steps: int = 1800
    batch_size: int = 16
    # adamw: AdamW on everything; muon: Muon on the hidden weight matrices, AdamW (learning_rate)
    # on the embedding and norms (600 steps build 3x sooner, but GRPO and InT do not separate on
    # that model: docs/results/sandbox-build/README.md)
    optimizer: str = "adamw"
    learning_rate: float = 3e-3  # AdamW's
    muon_learning_rate: float = 0.01
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    num_threads: int = 0  # 0: all cores (at most 8)
    device: str = "cpu"  # cpu | cuda | auto
    # bf16 autocast in training: auto = measured on a CPU with native bf16 (a few timed passes
    # each; faster on some such CPUs, slower on others: int_exp/models/precision.py), bf16 on a
    # GPU that has it, else fp32; fp32 | bf16 force it.
    precision: str = "auto"
    # Self-verification (int_exp.domains.arith.verification): a second phase, after the solver's
    # first: verify_copy_steps batches copying random strings, verify_pre_steps batches of short
    # mark chats, then verify_steps batches of the
    # proposer's chats (verify_share verification on perturbed solutions of pretrain problems of
    # verify_min_ops..train_max_ops operations; verify_mark_share marking; the rest solving, with and without the
    # reference), each under a fresh warmup + cosine schedule peaking at verify_lr_scale x the
    # learning rates; then verify_tail_steps batches of the same chats with more solving
    # (verify_tail_share verification, verify_tail_mark_share marking) at verify_tail_lr_scale:
    # turn 1 and the solver come back there, until the card's hard accuracy reaches
    # verify_tail_stop_hard; then verify_own_steps batches with verify_own_share verification
    # chats on the model's own failed samples of verify_own_problems problems, drawn then.
    # verify_steps 0: none.
    verify_steps: int = 0
    verify_copy_steps: int = 2500  # random strings copied first: copy heads form at ~900 steps
    verify_pre_steps: int = 600
    verify_share: float = 0.45
    verify_mark_share: float = 0.35
    verify_lr_scale: float = 0.5
    verify_tail_steps: int = 1200
    verify_tail_share: float = 0.4
    verify_tail_mark_share: float = 0.2
    verify_tail_lr_scale: float = 0.3
    verify_tail_stop_hard: float = 0.55  # the tail ends once the card's hard accuracy reaches it (0: never)
    verify_check_every: int = 200  # tail steps between those checks
    verify_own_steps: int = 600
    verify_own_share: float = 0.2  # verification chats on the model's own failures
    verify_own_phase_share: float = 0.2  # and on perturbed attempts
    verify_own_phase_mark_share: float = 0.2
    verify_own_problems: int = 2048  # pretrain problems sampled for its own failures (build M: 39% failed, temperature 1)
    verify_min_ops: int = 5
    # The proposer prompt the model learns (experiment=sandbox points intervention.prompt here):
    # the paper's two turns, compact (one token per character).
    prompt_turn1: str = "{problem}\nReference: {reference_solution}"
    prompt_turn2: str = "Check the attempt ({num_steps} substeps); replace its first wrong substep.\n\n{numbered_attempt}"
    # Trained until the card passes: while the card's hard accuracy is under min_hard_accuracy,
    # extend_steps more steps (a fresh warmup + cosine schedule at extend_lr_scale x the rates),
    # at most max_extensions times. Seeds learn at different speeds: of five 1800-step builds,
    # two solved 41-50% of hard problems, three 3-28% (docs/results/2026-12-04-sandbox-build-floor).
    min_hard_accuracy: float = 0.35  # 0: no floor
    extend_steps: int = 600
    max_extensions: int = 2
    extend_lr_scale: float = 0.33
    eval_problems: int = 64  # held-out test problems per difficulty for the card (0: skip, and no floor)
    eval_temperature: float = 0.8
    seed: int = 0
