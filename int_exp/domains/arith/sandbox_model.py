"""The sandbox model: a small transformer trained from scratch on synthetic arithmetic.

SmolLM2-135M is too weak to check its own arithmetic, so a CPU run of InT on it exercises the
plumbing but not the method. The sandbox is a small world where every stage does real work: a
character-level Llama-style LM (~1.06M parameters) is trained from scratch (``builtin:sandbox``,
built once by the ``model`` stage and cached) on detailed solutions of problems of the arith
``pretrain`` split (:mod:`int_exp.domains.arith.generator`; never the train or test problems). It
solves most easy problems and fails many hard ones (6-8 operations) the way an LLM does: a correct
prefix, then a first wrong step (mostly a misread: another operation or operand than the
problem's; sometimes an arithmetic slip) that the arith oracle locates and corrects, after which a
continuation often succeeds.

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
solution<|end|>`` sequences, loss on the assistant part and its ``<|end|>``; AdamW (``optimizer:
adamw``, the default: 1800 steps) or Muon (:mod:`int_exp.models.muon`) on the attention and MLP
matrices with AdamW on the rest (``optimizer: muon``: 600 steps build 3x sooner, but plain GRPO
and InT do not separate on that model), warmup and a cosine schedule, length-grouped batches,
seeded (``model.sandbox.seed``: another base model of the same recipe), in plain PyTorch, in bf16
autocast or fp32, whichever a few timed passes find faster on the machine (``precision: auto``,
:mod:`int_exp.models.precision`). With ``verify_steps > 0`` a second phase teaches the model the
proposer's two turns (:mod:`int_exp.domains.arith.verification`), ending on its own failures;
off by default: its proposals are right on about a quarter of its own failures, but its solver
overshoots (hard 81%), and InT with its proposals is not above GRPO there
(docs/results/2026-12-05-sandbox-verification-own/). The folder gets the model, the tokenizer
and ``sandbox_card.json`` (size, steps, time, loss, precision, and sampled accuracy by difficulty
on held-out ``test`` problems through the ``hf`` backend; with the second phase, the
verification accuracy too).

Figures (build time, accuracy by difficulty, what the recipe was chosen from) are in the README
and ``docs/results/`` (``sandbox-build/``, with the history of the recipe in
``sandbox-build/history.md``); ``python benchmarks/sandbox_calibration.py`` measures a model.
Padding batches to multiples of 32 tokens keeps oneDNN from building kernels for every new
shape (the process otherwise grows past 3 GB and slows down).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from int_exp.config import plain_dict
from int_exp.domains.arith.generator import with_steps
from int_exp.domains.arith.sandbox_training import batch_tensors, make_optimizers, train_step
from int_exp.domains.arith.verification import encode_chat
from int_exp.models.batching import length_batches
from int_exp.models.precision import choose_bf16
from int_exp.runtime import threads
from int_exp.runtime.hardware import resolve_device, thread_count, torch_threads

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
# values stay below 100, + and - operands and start values up to 9, multipliers 2 and 3. With
# arithmetic this easy the model's failures on 8-operation problems are mostly reading errors (the
# wrong operation or operand of the chain), which one corrected step fixes, as in the paper; with
# 20 / 3 / 199 (the default until 2026-12-05) most were arithmetic slips, and neither GRPO nor InT
# moved them on most base models (docs/results/2026-12-05-sandbox-easy-arithmetic/). Wider ranges
# (ArithConfig's 99 / 9 / 9999) need far more training than a 5-10 minute CPU build gives.
SANDBOX_ARITH = {"max_operand": 9, "max_multiplier": 3, "max_value": 99, "operations": ["+", "-", "*"]}


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
    return encode_chat(tokenizer, [{"role": "user", "content": problem}], solution)


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
    n_eval = int(cfg.eval_problems)
    with torch_threads(thread_count(cfg.num_threads)):
        model, stats, batches = _fit(cfg, tokenizer, examples, device)
        _save(model, tokenizer, out_dir)
        evaluation, eval_seconds = _evaluate(cfg, arith_cfg, out_dir, n_eval) if n_eval > 0 else (None, 0.0)
        extensions = []
        # A seed that learns slowly gets more steps, so every base model of a sweep over
        # model.sandbox.seed is one the method can be read on (a weak one gives GRPO no signal).
        while _below_floor(cfg, evaluation) and len(extensions) < int(cfg.max_extensions):
            extension = {"hard_before": evaluation["hard"]["accuracy"],
                         **_extend(cfg, tokenizer, model, batches, examples, device, stats)}
            _save(model, tokenizer, out_dir)
            evaluation, seconds = _evaluate(cfg, arith_cfg, out_dir, n_eval)
            eval_seconds += seconds
            extensions.append({**extension, "hard_after": evaluation["hard"]["accuracy"]})
            log.info("sandbox: hard %.0f%% < %.0f%%: %d more steps -> %.0f%%", 100 * extension["hard_before"],
                     100 * float(cfg.min_hard_accuracy), extension["steps"], 100 * extensions[-1]["hard_after"])
        if int(cfg.verify_steps) > 0:
            from int_exp.domains.arith.verification_training import fit_verification

            def save() -> None:
                _save(model, tokenizer, out_dir)

            def hard_accuracy() -> float:  # the card's reading, as the floor takes it
                save()
                return _evaluate(cfg, arith_cfg, out_dir, n_eval)[0]["hard"]["accuracy"]

            stats["verify"] = fit_verification(cfg, arith_cfg, tokenizer, model, examples, device, out_dir,
                                                stats["precision"]["precision"] == "bf16", save=save,
                                                hard_accuracy=hard_accuracy if n_eval > 0 else None)
            save()
            if n_eval > 0:
                evaluation, seconds = _evaluate(cfg, arith_cfg, out_dir, n_eval)
                eval_seconds += seconds
    card = _card(cfg, arith_cfg, stats, len(tokenizer), len(problems), longest, device)
    card["extensions"] = extensions
    if evaluation is not None:
        card["eval"], card["eval_seconds"] = evaluation, round(eval_seconds, 1)
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
    model.save_pretrained(out_dir)  # from wherever it is: training may go on after a save
    tokenizer.save_pretrained(out_dir)


def _typical_batch(examples: list[tuple[list[int], int]], rows: int) -> list[tuple[list[int], int]]:
    """``rows`` examples of the median length: the batch the precision is measured on."""
    by_length = sorted(examples, key=lambda e: len(e[0]))
    middle = max(0, len(by_length) // 2 - rows // 2)
    return by_length[middle : middle + rows]


def _batch_stream(lengths: list[int], batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Length-grouped batches of example indices, epoch after epoch, in a seeded order."""
    while True:
        queue = length_batches(lengths, batch_size, rng=rng)
        while queue:
            yield queue.pop()


def _run_steps(cfg: Any, model: Any, optimizers: list, batches: Iterator[list[int]],
               examples: list[tuple[list[int], int]], pad_id: int, steps: int, device: str, bf16: bool,
               desc: str) -> tuple[list[float], int]:
    """``steps`` optimizer steps on the next batches of ``batches``; returns the losses and tokens."""
    from tqdm.auto import tqdm

    losses: list[float] = []
    tokens = 0
    bar = tqdm(range(steps), desc=desc, unit="step", dynamic_ncols=True, mininterval=2.0)
    for step in bar:
        batch = [examples[i] for i in next(batches)]
        losses.append(train_step(model, optimizers, batch_tensors(batch, pad_id), device, bf16))
        tokens += sum(len(ids) for ids, _ in batch)
        if step % 10 == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if not int(cfg.num_threads):
            threads.rebalance()  # this job's share of the cores, if other jobs started or ended
    bar.close()
    return losses, tokens


def _fit(cfg: Any, tokenizer: Any, examples: list[tuple[list[int], int]], device: str):
    """The training loop: returns the trained model (eval mode), its statistics and the batch
    stream (an extension continues it, so no example is seen twice before the epoch ends)."""
    import torch
    from transformers import LlamaForCausalLM

    from int_exp.models import small_llama_config

    torch.manual_seed(int(cfg.seed))
    config = small_llama_config(tokenizer, cfg, num_kv_heads=cfg.num_heads, bos_token_id=None)
    model = LlamaForCausalLM(config).to(device)
    model.train()
    optimizers = make_optimizers(cfg, model)
    batches = _batch_stream([len(ids) for ids, _ in examples], int(cfg.batch_size),
                            random.Random(f"int-exp/sandbox/{int(cfg.seed)}"))
    typical = batch_tensors(_typical_batch(examples, int(cfg.batch_size)), tokenizer.pad_token_id)
    bf16, precision = choose_bf16(str(cfg.precision), device, model, typical)
    t0 = time.perf_counter()
    losses, tokens = _run_steps(cfg, model, optimizers, batches, examples, tokenizer.pad_token_id,
                                int(cfg.train_steps), device, bf16, "sandbox: training")
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = None
    stats = {"losses": losses, "seconds": time.perf_counter() - t0, "tokens": tokens, "precision": precision,
             "parameters": sum(p.numel() for p in model.parameters())}
    return model, stats, batches


def _below_floor(cfg: Any, evaluation: dict[str, Any] | None) -> bool:
    """Whether the card's hard accuracy is under ``min_hard_accuracy`` (no card: never)."""
    if evaluation is None or float(cfg.min_hard_accuracy) <= 0:
        return False
    return evaluation["hard"]["accuracy"] < float(cfg.min_hard_accuracy)


def _extend(cfg: Any, tokenizer: Any, model: Any, batches: Iterator[list[int]],
            examples: list[tuple[list[int], int]], device: str, stats: dict[str, Any]) -> dict[str, Any]:
    """``extend_steps`` more steps on the same stream under a fresh warmup + cosine schedule
    peaking at ``extend_lr_scale`` x the learning rate; adds them to ``stats``."""
    t0 = time.perf_counter()
    model.train()
    steps = int(cfg.extend_steps)
    optimizers = make_optimizers(cfg, model, steps=steps, scale=float(cfg.extend_lr_scale))
    bf16 = stats["precision"]["precision"] == "bf16"
    losses, tokens = _run_steps(cfg, model, optimizers, batches, examples, tokenizer.pad_token_id, steps,
                                device, bf16, "sandbox: extending")
    model.eval()
    stats["losses"] += losses
    stats["tokens"] += tokens
    stats["seconds"] += time.perf_counter() - t0
    return {"steps": steps, "loss_last": sum(losses[-50:]) / len(losses[-50:]),
            "seconds": round(time.perf_counter() - t0, 1)}


def load_card(model_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(model_dir) / CARD_NAME).read_text())
