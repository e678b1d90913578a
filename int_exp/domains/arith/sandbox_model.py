"""The sandbox model: a small transformer trained from scratch on synthetic arithmetic.

SmolLM2-135M is too weak to check its own arithmetic, so a CPU run of InT on it exercises the
plumbing but not the method. The sandbox is a small world where every stage does real work: a
character-level Llama-style LM (~1.06M parameters) is trained from scratch (``builtin:sandbox``,
built once by the ``model`` stage and cached) on detailed solutions of problems of the arith
``pretrain`` split (:mod:`int_exp.domains.arith.generator`; never the train or test problems). It solves most
easy problems and fails about half of the hard ones (6-8 operations), the way an LLM does: a correct prefix,
then a first wrong step (nearly always an arithmetic slip, sometimes a skipped or misread
operation) that the arith oracle locates and corrects, after which a continuation often succeeds.

Tokenizer. One token per character: tab, newline, printable ASCII and ``×``/``÷`` (what the arith
checker reads), plus the special tokens ``<|pad|>``, ``<|unk|>``, ``<|system|>``, ``<|user|>``,
``<|assistant|>`` and ``<|end|>`` (the end of a turn, and the eos). It is a ``tokenizers``
WordLevel model over single characters (a per-character split pre-tokenizer, a ``Fuse``
decoder), wrapped in :class:`transformers.PreTrainedTokenizerFast` with ``padding_side="left"``
and no clean-up of spaces, so ``decode(encode(text)) == text`` for any text in that alphabet.

Chat template (:data:`CHAT_TEMPLATE`): ``<|user|>{content}<|end|>`` per message (likewise
``system``, ``assistant``), and ``<|assistant|>`` for the generation prompt; nothing else, not
even newlines (a character model pays for every one). In continue-final-message mode transformers
cuts the rendering right after the final assistant content, so the prompt ends exactly with the
partial text (trailing blank lines included).

Training (:func:`train_sandbox_model`): ``<|user|>problem<|end|><|assistant|>detailed
solution<|end|>`` sequences, loss on the assistant part and its ``<|end|>``; Muon
(:mod:`int_exp.models.muon`) on the attention and MLP matrices and AdamW on the tied embedding and
the norms (``optimizer: adamw``, AdamW alone, needs about 2.5x the steps), warmup and a cosine
schedule, length-grouped batches, seeded, in plain PyTorch, in bf16
autocast or fp32, whichever a few timed passes find faster on the machine (``precision: auto``,
:mod:`int_exp.models.precision`: bf16 1.5x faster on an AMD EPYC, 1.6x slower on an Intel Xeon,
both with AVX512-BF16; same accuracy in our runs). The folder gets the model, the tokenizer and
``sandbox_card.json`` (size, steps, time, loss, precision, and sampled accuracy by difficulty on
held-out ``test`` problems through the ``hf`` backend).

Calibration (defaults of :class:`~int_exp.domains.arith.settings.SandboxModelConfig`, ``data.arith`` =
:data:`SANDBOX_ARITH`, 2 CPU cores, Intel Xeon with AMX, 2026-12-02): 1,063,168 parameters, 600
steps x 16 sequences of Muon (0.48 epochs of 20,000 problems) in 141 s of training (bf16
autocast; **156 s** with the card), loss 2.72 -> 0.021. Sampled accuracy at temperature 0.8 on
held-out ``test`` problems (48 per band x 4 samples): easy 78%, medium 52%, hard 24% (pass@4 52%);
8 operations 15%. Failures are a correct prefix and a first wrong step (94-96% arithmetic slips),
all diagnosable by the oracle. ``python benchmarks/sandbox_calibration.py`` reproduces these
figures; the probes that chose the recipe are in ``docs/results/sandbox-build/README.md``.

The earlier default, ``optimizer: adamw`` with ``train_steps: 1800`` (2026-11-29, AMD EPYC with
AVX512-BF16): 1.4 epochs, 6.3M tokens, 532 s of training (550 s with the card), loss 2.43 -> 0.006;
easy 94%, medium 72%, hard 44% (the card, 32 problems per band); on the 96 hard problems of the
earlier ``experiment=sandbox`` (6-8 operations) pass@1 52% and pass@8 81%, the first error on
average 70% of the way into a hard attempt. The README's 7-variant x 3-seed table and the
figures under "The paper's regime" below were measured with that model.

What did not work, for the record (AdamW, the 1800-step budget, 2 cores): wider operands (up to 30, multipliers
up to 5, values up to 999): 1400 steps reach easy 66% / medium 27% / hard 5.5%, 94% of the
failures arithmetic slips; ArithConfig's defaults (99 / 9 / 9999) give ~0% even on easy. Two
layers instead of four (2000 steps): hard 0-2%, three quarters of the errors a misread operation
(two layers do not learn to find the i-th operation in the problem text). 1000 steps: hard 0%.
Training on 1-5 operations only, so that hard problems are unseen lengths, gives 0% on hard even
greedily: beyond the trained lengths the model cannot find the operations in the problem text.
``learning_rate`` 6e-3 stalls. Padding
batches to multiples of 32 tokens keeps oneDNN from building kernels for every new shape (the
process otherwise grows past 3 GB and slows down). Towards a 3-minute build (steps/s, profiles,
and shorter recipes that leave hard problems at 0%): ``docs/results/sandbox-build/README.md``.

The paper's regime (``experiment=sandbox`` since 2026-12-01; the model above unchanged). The
paper trains on problems its base model never solves, where plain GRPO has no signal. The
earlier sandbox (6-8 operations, temperature 0.8) was not there: held-out pass@1 52%, 12% of the
training problems unsolved in 8 rollouts, and int 56.6 vs rl_only 56.9 (no separation at 96
problems); its unsolved-only variant (32 problems, SFT 3 epochs at 3e-4, GRPO at 1e-4)
overfitted (rl_only 47.9, int 42.1). What was tried, 2 cores, one seed, 384 training and 256
held-out problems x 8 samples:

- Accuracy by operations (T=0.8, 96 problems x 8 per band): 1-5 operations 76-98%, 6: 61%,
  7: 57%, 8: 16%; on 128 problems each, 7: 47.6% (20% unsolved in 8), 8: 30.7% (37.5%). Eight
  operations is the longest trained length, so 8-operation problems are hard within it.
- 8 operations, k=8 rollouts, T=0.8, SFT and GRPO on the unsolved problems only, SFT 2 epochs at
  1e-4 (236 rows), GRPO 30 steps at 5e-5: base 30.4, rl_only 45.4, int 51.1 pass@1; paired
  int - rl_only +5.7 [2.3, 9.0]; 28% of the training problems unsolved; GRPO groups without
  signal 42.5% (rl_only) vs 27.5% (int).
- The same at T=1.0 (base pass@1 at most 25%): base 25.0, rl_only 39.7, int 43.3; int - rl_only
  +3.6 [1.1, 6.0]; 29% unsolved in 8; zero-advantage groups 34.2% vs 28.3%.
- k=4 rollouts at T=1.0 (the default now), seeds 0, 1, 2: 155, 173, 163 of 384 training
  problems unsolved (40-45%); base 25.7, rl_only 40.9, int 45.4 pass@1 (pooled); int - rl_only
  +4.6 [2.0, 7.0]; zero-advantage groups 32.2% (rl_only) vs 19.2% (int). The README has the
  whole table (7 variants x 3 seeds, 45 min 57 s on 2 cores).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from int_exp.config import plain_dict
from int_exp.domains.arith.generator import with_steps
from int_exp.models.batching import length_batches
from int_exp.models.hardware import resolve_device, thread_count, torch_threads
from int_exp.models.precision import backward_loss, choose_bf16
from int_exp.pipeline import threads

log = logging.getLogger(__name__)

__all__ = [
    "CHAT_TEMPLATE",
    "END",
    "PAD",
    "SANDBOX_ARITH",
    "SPECIAL_TOKENS",
    "VOCAB_CHARS",
    "build_tokenizer",
    "encode_example",
    "load_card",
    "pretrain_problems",
    "train_sandbox_model",
]

PAD, UNK, SYSTEM, USER, ASSISTANT, END = "<|pad|>", "<|unk|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = [PAD, UNK, SYSTEM, USER, ASSISTANT, END]
VOCAB_CHARS = ["\t", "\n"] + [chr(i) for i in range(32, 127)] + ["×", "÷"]
CARD_NAME = "sandbox_card.json"

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('the sandbox chat template knows the roles system, user and assistant, not ' + message['role']) }}"
    "{%- endif -%}"
    "<|{{ message['role'] }}|>{{ message['content'] }}<|end|>"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)

# The arith operand settings the defaults are calibrated for (data.arith of experiment=sandbox):
# values stay below 200, + and - operands and start values up to 20, multipliers 2 and 3. Wider
# ranges (30 / 5 / 999, or ArithConfig's 99 / 9 / 9999) need far more training steps than a
# 5-10 minute CPU build gives before the model's arithmetic is right often enough.
SANDBOX_ARITH = {"max_operand": 20, "max_multiplier": 3, "max_value": 199, "operations": ["+", "-", "*"]}


# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------


def build_tokenizer():
    """The sandbox's character-level tokenizer (see the module doc)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + VOCAB_CHARS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        unk_token=UNK,
        eos_token=END,
        padding_side="left",  # kept only when passed to the constructor
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
        model_max_length=1_000_000,
    )


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def pretrain_problems(sandbox_cfg: Any, arith_cfg: Any):
    """The training problems: ``train_problems`` from the arith ``pretrain`` split with
    ``train_min_ops..train_max_ops`` operations (easy and medium by default), other knobs
    (operands, operations, seed) as in ``arith_cfg``."""
    from int_exp.domains.arith.generator import generate_problems

    cfg = with_steps(arith_cfg, sandbox_cfg.train_min_ops, sandbox_cfg.train_max_ops)
    return generate_problems(cfg, "pretrain", int(sandbox_cfg.train_problems))


def encode_example(tokenizer: Any, problem: str, solution: str) -> tuple[list[int], int]:
    """Token ids of ``<|user|>problem<|end|><|assistant|>solution<|end|>`` and the prompt's length
    (the loss covers the rest). The prompt is rendered exactly as the generation backends do."""
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": problem}], tokenize=False, add_generation_prompt=True
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(solution + END, add_special_tokens=False)["input_ids"]
    return list(prompt_ids) + list(answer_ids), len(prompt_ids)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def train_sandbox_model(sandbox_cfg: Any, arith_cfg: Any, out_dir: Path) -> None:
    """Train the sandbox model from scratch and save it (model, tokenizer, card) into ``out_dir``.

    Args:
        sandbox_cfg: a :class:`~int_exp.domains.arith.settings.SandboxModelConfig` (or a DictConfig of it).
        arith_cfg: the run's :class:`~int_exp.domains.arith.settings.ArithConfig` (operands, operations, seed);
            its step counts are replaced by the sandbox's ``train_min_ops..train_max_ops``.
        out_dir: created if needed.
    """

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = sandbox_cfg
    if cfg.hidden_size // cfg.num_heads < 32:
        raise ValueError(
            f"model.sandbox: head_dim = hidden_size / num_heads = {cfg.hidden_size // cfg.num_heads} < 32 "
            "(vLLM's CPU attention needs >= 32)"
        )
    t_start = time.perf_counter()
    tokenizer = build_tokenizer()
    problems = pretrain_problems(cfg, arith_cfg)
    examples = [encode_example(tokenizer, p.text, p.detailed()) for p in problems]
    longest = max(len(ids) for ids, _ in examples)
    if longest > cfg.max_position_embeddings:
        raise ValueError(f"model.sandbox: a training sequence has {longest} tokens > max_position_embeddings")

    device = resolve_device(cfg.device)
    with torch_threads(thread_count(cfg.num_threads)):
        model, stats = _fit(cfg, tokenizer, examples, device)
        _save(model, tokenizer, out_dir)
        if int(cfg.verify_steps) > 0:
            stats["verify"] = _fit_verification(cfg, arith_cfg, tokenizer, model, examples, device, out_dir,
                                                stats["precision"]["precision"] == "bf16")
            _save(model, tokenizer, out_dir)
    card = _card(cfg, arith_cfg, stats, len(tokenizer), len(problems), longest, device)
    n_eval = int(cfg.eval_problems)
    if n_eval > 0:
        card["eval"], card["eval_seconds"] = _evaluate(cfg, arith_cfg, out_dir, n_eval)
        if int(cfg.verify_steps) > 0:
            card["verification"] = _evaluate_verification(cfg, arith_cfg, out_dir, n_eval)
    card["build_seconds"] = round(time.perf_counter() - t_start, 1)
    (out_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
    log.info(
        "sandbox: %d parameters, %d steps in %.0f s, loss %.3f -> %.3f%s",
        stats["parameters"], len(stats["losses"]), stats["seconds"], card["loss_first"], card["loss_last"],
        "".join(f", {k} {v['accuracy']:.0%}" for k, v in card.get("eval", {}).items()),
    )


def _card(
    cfg: Any, arith_cfg: Any, stats: dict[str, Any], vocab_size: int, n_problems: int, longest: int, device: str
) -> dict[str, Any]:
    """The model card's training part: what was trained, on what, for how long, and the loss."""
    losses = stats["losses"]
    steps = len(losses)
    window = max(1, min(50, len(losses) // 5))
    return {
        "what": "int-exp sandbox: a character-level Llama trained from scratch on arith detailed solutions",
        "config": plain_dict(cfg),
        "arith": plain_dict(arith_cfg),
        "parameters": stats["parameters"],
        "vocab_size": vocab_size,
        "train_problems": n_problems,
        "train_ops": [int(cfg.train_min_ops), int(cfg.train_max_ops)],
        "train_steps": steps,
        "train_tokens": stats["tokens"],
        "epochs": round(steps * int(cfg.batch_size) / max(1, n_problems), 2),
        "longest_train_sequence": longest,
        "loss_first": sum(losses[:window]) / window,
        "loss_last": sum(losses[-window:]) / window,
        "train_seconds": round(stats["seconds"], 1),
        "threads": thread_count(cfg.num_threads),
        "device": device,
        "bf16": stats["precision"]["precision"] == "bf16",
        "precision": stats["precision"],
        "verification_training": stats.get("verify"),
    }


def _evaluate(cfg: Any, arith_cfg: Any, out_dir: Path, n_eval: int) -> tuple[dict[str, Any], float]:
    """The card's sampled accuracy by difficulty (``n_eval`` problems per band) and its seconds."""
    t_eval = time.perf_counter()
    from int_exp.domains.arith.sandbox_eval import evaluate_sandbox

    summary = evaluate_sandbox(
        out_dir, arith_cfg, n_problems=n_eval, n_samples=1, temperature=float(cfg.eval_temperature),
        seed=int(cfg.seed),
    )["summary"]
    return summary, round(time.perf_counter() - t_eval, 1)


def _evaluate_verification(cfg: Any, arith_cfg: Any, out_dir: Path, n_eval: int) -> dict[str, Any]:
    """The card's verification accuracy by difficulty, against the oracle, on the model's own
    failures of held-out problems (the asymmetry: how often it solves against how often it
    finds and fixes the first error)."""
    from int_exp.domains.arith.sandbox_eval import evaluate_verification
    from int_exp.domains.arith.verification import prompt_config

    return evaluate_verification(out_dir, arith_cfg, prompt_config(cfg), n_problems=n_eval,
                                 temperature=float(cfg.eval_temperature), seed=int(cfg.seed))["summary"]


def _save(model: Any, tokenizer: Any, out_dir: Path) -> None:
    model.to("cpu").save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _own_attempts(cfg: Any, arith_cfg: Any, model_dir: Path) -> list[tuple[Any, str]]:
    """The model's failed samples (temperature 1, as rollouts) on ``verify_own_problems``
    pretrain problems of ``verify_min_ops..train_max_ops`` operations: the verification
    phase's attempts whose errors are the model's own."""
    from int_exp.backends.base import SamplingParams
    from int_exp.domains.arith.generator import check_solution, generate_problems
    from int_exp.domains.arith.sandbox_eval import sample_solutions

    problems = generate_problems(with_steps(arith_cfg, cfg.verify_min_ops, cfg.train_max_ops), "pretrain",
                                 int(cfg.verify_own_problems))
    max_tokens = max(len(p.detailed()) for p in problems) * 3 // 2 + 16
    params = SamplingParams(n=1, temperature=1.0, top_p=1.0, top_k=0, max_tokens=max_tokens, seed=int(cfg.seed))
    outputs = sample_solutions(model_dir, [[{"role": "user", "content": p.text}] for p in problems], params,
                               batch_size=128)
    return [(p, text) for p, samples in zip(problems, outputs) for text in samples
            if check_solution(p, text)[0] is not None]


def _fit_verification(cfg: Any, arith_cfg: Any, tokenizer: Any, model: Any, solve: list[tuple[list[int], int]],
                      device: str, model_dir: Path, bf16: bool) -> dict[str, Any]:
    """The second phase: teach the trained solver the proposer's two turns
    (:mod:`int_exp.domains.arith.verification`) while it keeps solving. Returns its statistics."""
    from int_exp.domains.arith.verification import prompt_config, verification_examples

    t0 = time.perf_counter()
    own = _own_attempts(cfg, arith_cfg, model_dir)
    sample_seconds = time.perf_counter() - t0
    steps = int(cfg.verify_steps)
    rng = random.Random(f"int-exp/sandbox/verify/{int(cfg.seed)}")
    n_synthetic = steps * int(cfg.batch_size) // 2
    problems = pretrain_problems(cfg, arith_cfg)[:n_synthetic]
    pools = verification_examples(tokenizer, problems, own, prompt_config(cfg), rng)
    pools["solve"] = solve
    share = float(cfg.verify_share)
    weights = {"verify": share, "solve_ref": (1 - share) * 0.4, "solve": (1 - share) * 0.6}
    longest = max(len(ids) for ids, _ in pools["verify"])
    if longest > cfg.max_position_embeddings:
        raise ValueError(f"model.sandbox: a verification sequence has {longest} tokens > max_position_embeddings")
    model.to(device).train()
    optimizers = _optimizers(cfg, model, steps=steps, scale=float(cfg.verify_lr_scale))
    queues: dict[str, list[list[int]]] = {kind: [] for kind in weights}
    losses: dict[str, list[float]] = {kind: [] for kind in weights}
    pad_id = tokenizer.pad_token_id
    from tqdm.auto import tqdm

    for _ in tqdm(range(steps), desc="sandbox: verification training", unit="step", dynamic_ncols=True,
                  mininterval=2.0):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(ids) for ids, _ in pools[kind]], int(cfg.batch_size), rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(_train_step(model, optimizers, _batch_tensors(batch, pad_id), device, bf16))
        if not int(cfg.num_threads):
            threads.rebalance()
    model.eval()
    return {"own_failures": len(own), "examples": {k: len(v) for k, v in pools.items()},
            "loss_last": {k: sum(v[-20:]) / max(1, len(v[-20:])) for k, v in losses.items()},
            "sample_seconds": round(sample_seconds, 1), "seconds": round(time.perf_counter() - t0, 1)}


def _lr_lambda(steps: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    """The learning-rate factor at a step: linear warmup, then cosine decay to ``min_ratio``."""

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return lr_at


OPTIMIZERS = ("muon", "adamw")


def _optimizers(cfg: Any, model: Any, steps: int | None = None, scale: float = 1.0) -> list[tuple[Any, Any]]:
    """The optimizers and their warmup + cosine schedules, as ``(optimizer, scheduler)`` pairs.

    ``muon``: Muon on the hidden weight matrices (attention and MLP) and AdamW on the rest (the
    tied embedding and the norms): 600 steps come near 1500 AdamW steps, and 1000 beat 1800
    (docs/results/sandbox-build/README.md). ``adamw``: AdamW on everything. AdamW never
    decays 1-d parameters (the norms).
    """
    import torch

    from int_exp.models.muon import BatchedMuon  # imports torch: only when training

    name = str(cfg.optimizer)
    if name not in OPTIMIZERS:
        raise ValueError(f"model.sandbox.optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")
    matrices, rest = [], []
    for param_name, param in model.named_parameters():
        hidden_matrix = param.dim() == 2 and "embed" not in param_name and "lm_head" not in param_name
        (matrices if name == "muon" and hidden_matrix else rest).append(param)
    decay = [p for p in rest if p.dim() >= 2]
    no_decay = [p for p in rest if p.dim() < 2]
    optimizers = [torch.optim.AdamW(
        [{"params": decay, "weight_decay": float(cfg.weight_decay)}, {"params": no_decay, "weight_decay": 0.0}],
        lr=float(cfg.learning_rate) * scale,
        betas=(0.9, 0.98),
    )]
    if matrices:
        optimizers.append(BatchedMuon(matrices, lr=float(cfg.muon_learning_rate) * scale,
                                      weight_decay=float(cfg.weight_decay), momentum=0.95))
    steps = int(cfg.train_steps) if steps is None else steps
    warmup = max(1, min(int(cfg.warmup_steps), steps // 10))
    lr_at = _lr_lambda(steps, warmup, float(cfg.min_lr_ratio))
    return [(opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_at)) for opt in optimizers]


def _batch_tensors(batch: list[tuple[list[int], int]], pad_id: int) -> tuple[Any, Any]:
    """``(input_ids, labels)`` of a batch, right-padded, labels only on the part after the prompt."""
    import torch

    # Widths rounded up to a multiple of 32: a handful of tensor shapes instead of hundreds,
    # so the CPU kernels (oneDNN under bf16 autocast) are built once per shape and reused.
    width = -(-max(len(ids) for ids, _ in batch) // 32) * 32
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for r, (ids, n_prompt) in enumerate(batch):  # right padding: causal attention never sees it
        input_ids[r, : len(ids)] = torch.tensor(ids)
        labels[r, n_prompt : len(ids)] = torch.tensor(ids[n_prompt:])
    return input_ids, labels


def _typical_batch(examples: list[tuple[list[int], int]], rows: int) -> list[tuple[list[int], int]]:
    """``rows`` examples of the median length: the batch the precision is measured on."""
    by_length = sorted(examples, key=lambda e: len(e[0]))
    middle = max(0, len(by_length) // 2 - rows // 2)
    return by_length[middle : middle + rows]


def _train_step(model: Any, optimizers: list[tuple[Any, Any]], batch: tuple[Any, Any], device: str,
                bf16: bool) -> float:
    """One step of every optimizer on ``batch`` (input ids, labels); returns its loss."""
    import torch

    loss = backward_loss(model, batch, device, bf16)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    for optimizer, scheduler in optimizers:
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _fit(cfg: Any, tokenizer: Any, examples: list[tuple[list[int], int]], device: str, on_step: Any = None):
    """The training loop: returns the trained model (eval mode) and its statistics.
    ``on_step(step, model, losses)``, when given, is called after every optimizer step."""
    import torch
    from tqdm.auto import tqdm
    from transformers import LlamaForCausalLM

    from int_exp.models import small_llama_config

    torch.manual_seed(int(cfg.seed))
    config = small_llama_config(tokenizer, cfg, num_kv_heads=cfg.num_heads, bos_token_id=None)
    model = LlamaForCausalLM(config).to(device)
    model.train()
    optimizers = _optimizers(cfg, model)
    steps = int(cfg.train_steps)
    rng = random.Random(f"int-exp/sandbox/{int(cfg.seed)}")
    lengths = [len(ids) for ids, _ in examples]
    pad_id = tokenizer.pad_token_id
    typical = _batch_tensors(_typical_batch(examples, int(cfg.batch_size)), pad_id)
    bf16, precision = choose_bf16(str(cfg.precision), device, model, typical)
    queue: list[list[int]] = []
    losses: list[float] = []
    tokens = 0
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc="sandbox: training", unit="step", dynamic_ncols=True, mininterval=2.0)
    for step in bar:
        if not queue:
            queue = length_batches(lengths, int(cfg.batch_size), rng=rng)
        batch = [examples[i] for i in queue.pop()]
        losses.append(_train_step(model, optimizers, _batch_tensors(batch, pad_id), device, bf16))
        tokens += sum(len(ids) for ids, _ in batch)
        if step % 10 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if on_step is not None:
            on_step(step, model, losses)
        if not int(cfg.num_threads):
            threads.rebalance()  # this job's share of the cores, if other jobs started or ended
    bar.close()
    seconds = time.perf_counter() - t0
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    stats = {"losses": losses, "seconds": seconds, "tokens": tokens, "precision": precision,
             "parameters": sum(p.numel() for p in model.parameters())}
    return model, stats


def load_card(model_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / CARD_NAME).read_text())
