"""Trainers on the tiny model: a loss is logged AND the saved weights changed; SFT labels inside the
trainer are exactly the completion tokens; GRPO logs its reward statistics; the NLL/entropy
diagnostic is right. On the ``device`` fixture's device (tests/conftest.py)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from int_exp.sft import build_example, reference_example
from int_exp.training.grpo_trainer import GRPOSettings
from int_exp.training.sft_trainer import SFTSettings

ATTEMPT = "First, 3 + 4 = 7.\n\nThen 7 * 2 = 15.\n\nSo the result is 15."


def rows(n: int = 4) -> list[dict]:
    return [
        {
            "problem": f"Compute (3 + 4) * 2 + {i}.",
            "incorrect_attempt": ATTEMPT,
            "intervention": {"content": f"Then 7 * 2 = 14, plus {i}.", "location": 2},
            "guided_completion": f"\n\nSo the result is {14 + i}.",
        }
        for i in range(n)
    ]


def on(device: str) -> dict:
    """``trainer_kwargs`` that put a TRL trainer on the ``device`` fixture's device."""
    return {"use_cpu": device == "cpu"}


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def changed(before: dict, after: dict) -> list[str]:
    assert sorted(before) == sorted(after)
    return [k for k in before if not (before[k] == after[k]).all()]


@pytest.fixture
def recorded_batches(monkeypatch):
    """Every batch TRL's SFT collator hands to the model."""
    from trl.trainer import sft_trainer

    batches: list[dict] = []
    original = sft_trainer.DataCollatorForLanguageModeling.torch_call

    def record(self, examples):
        out = original(self, examples)
        batches.append(out)
        return out

    monkeypatch.setattr(sft_trainer.DataCollatorForLanguageModeling, "torch_call", record)
    return batches


def trained_texts(batches, tokenizer) -> Counter:
    texts = Counter()
    for batch in batches:
        for labels in batch["labels"].tolist():
            texts[tokenizer.decode([t for t in labels if t != -100], skip_special_tokens=False)] += 1
    return texts


@pytest.mark.parametrize(
    "peft, clone_suffix",
    [("none", False), ("lora", True)],  # full fine-tuning on InT examples; LoRA on suffix-cloned ones
)
def test_sft_trains_on_exactly_the_targets(tiny_model_dir, tmp_path, recorded_batches, peft, clone_suffix, device):
    from int_exp.models import load_tokenizer
    from int_exp.training import run_sft

    examples = [build_example(r, True, clone_suffix) for r in rows()]
    cfg = SFTSettings(
        learning_rate=1e-3, epochs=1, per_device_batch_size=2, max_length=512, peft=peft, lora_r=4,
        trainer_kwargs=on(device),
    )
    logged: list[tuple[int, dict]] = []
    out = tmp_path / "model"
    result = run_sft(examples, str(tiny_model_dir), cfg, out, log_fn=lambda m, s: logged.append((s, m)))

    losses = [m["loss"] for _, m in logged if "loss" in m]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses)
    assert result["steps"] == 2 and result["num_examples"] == 4 and result["dropped_examples"] == 0
    assert math.isfinite(result["train_loss"]) and result["log_history"]
    assert [m["learning_rate"] for _, m in logged if "learning_rate" in m] == pytest.approx([1e-3, 5.5e-4])

    tokenizer = load_tokenizer(tiny_model_dir)
    eos = "<|im_end|>" if clone_suffix else ""
    assert trained_texts(recorded_batches, tokenizer) == Counter(e["target"] + eos for e in examples)
    assert result["num_target_tokens"] == sum((b["labels"] != -100).sum().item() for b in recorded_batches)

    # A plain model folder (LoRA merged), usable by the generation backends, with changed weights.
    assert not (out.parent / "model.adapter").exists()
    assert (out / "config.json").exists() and (out / "tokenizer.json").exists()
    assert not (out / "adapter_config.json").exists()
    diff = changed(weights(tiny_model_dir), weights(out))
    if peft == "none":
        assert "model.layers.0.self_attn.q_proj.weight" in diff and "model.embed_tokens.weight" in diff
    else:  # LoRA touches the linear layers only
        assert "model.layers.0.self_attn.q_proj.weight" in diff and "model.embed_tokens.weight" not in diff


def test_sft_drops_examples_whose_prompt_fills_max_length(tiny_model_dir, tmp_path):
    from int_exp.training import run_sft

    cfg = SFTSettings(max_length=8, epochs=1)
    with pytest.raises(ValueError, match="no SFT example fits"):
        run_sft(
            [reference_example({"problem": "p", "reference_solution": "s"})],
            str(tiny_model_dir),
            cfg,
            tmp_path,
        )


def test_grpo_logs_rewards_and_updates_the_policy(tiny_model_dir, tmp_path, device):
    from int_exp.training import run_grpo

    seen_columns: list[set] = []

    def prefers_digits(completions, answer, **kwargs):
        """A reward with variance inside a group (a random model never answers correctly)."""
        seen_columns.append(set(kwargs) | {"answer"})
        assert len(answer) == len(completions)
        return [
            sum(ch.isdigit() for ch in c[0]["content"]) / 10 + len(c[0]["content"]) / 1000
            for c in completions
        ]

    prompts = [
        {"prompt": [{"role": "user", "content": f"What is {i} + 1?"}], "answer": str(i + 1), "source": "test"}
        for i in range(4)
    ]
    cfg = GRPOSettings(
        num_generations=4,
        per_device_batch_size=8,
        max_steps=2,
        max_completion_length=16,
        learning_rate=1e-3,
        temperature=1.0,
        trainer_kwargs=on(device),
    )
    logged: list[tuple[int, dict]] = []
    out = tmp_path / "policy"
    result = run_grpo(
        prompts,
        str(tiny_model_dir),
        cfg,
        out,
        reward_fn=prefers_digits,
        log_fn=lambda m, s: logged.append((s, m)),
    )

    assert result["steps"] == 2
    assert result["loss_type"] == "grpo"  # the paper's standard GRPO, not TRL's default (dapo)
    step_logs = [m for _, m in logged if "reward" in m]
    assert len(step_logs) == 2
    for m in step_logs:
        for key in (
            "reward",
            "reward_std",
            "frac_reward_zero_std",
            "completions/mean_length",
            "rewards/prefers_digits/mean",
            "loss",
        ):
            assert key in m and math.isfinite(m[key])
    assert all(m["completions/mean_length"] <= 16 for m in step_logs)
    assert any(m["reward_std"] > 0 for m in step_logs)  # the groups carry a learning signal
    assert {"answer", "source"} <= seen_columns[0]  # dataset columns reach the reward function
    assert "model.layers.0.self_attn.q_proj.weight" in changed(weights(tiny_model_dir), weights(out))
    assert (out / "tokenizer.json").exists()


def test_grpo_batch_must_hold_whole_groups(tiny_model_dir, tmp_path):
    from int_exp.training import run_grpo

    cfg = GRPOSettings(num_generations=4, per_device_batch_size=6)
    with pytest.raises(ValueError, match="multiple of rl.num_generations"):
        run_grpo(
            [{"prompt": [], "answer": "1"}], str(tiny_model_dir), cfg, tmp_path, reward_fn=lambda c, **k: []
        )


def test_sequence_diagnostics_matches_a_direct_computation(tiny_model_dir, device):
    import torch

    from int_exp.models import load_causal_lm, load_tokenizer
    from int_exp.sft import tokenize_example
    from int_exp.training import sequence_diagnostics

    tokenizer = load_tokenizer(tiny_model_dir)
    examples = [build_example(r, False, i % 2 == 0) for i, r in enumerate(rows(3))]
    diag = sequence_diagnostics(examples, str(tiny_model_dir), tokenizer, max_examples=8, batch_tokens=128,
                                device=device)
    assert diag["diag_examples"] == 3
    assert math.isfinite(diag["nll"]) and math.isfinite(diag["entropy"])
    assert 0 < diag["entropy"] <= math.log(len(tokenizer)) + 1e-4

    # The same numbers from full-sequence logits, one example at a time (in bf16 on a GPU, as there).
    model = load_causal_lm(tiny_model_dir, dtype="bfloat16" if device.startswith("cuda") else "float32",
                           device=device)
    tolerance = 2e-2 if device.startswith("cuda") else 1e-4
    nll = entropy = 0.0
    count = 0
    with torch.no_grad():
        for example in examples:
            tok = tokenize_example(example, tokenizer, None)
            ids = torch.tensor([tok["input_ids"]], device=device)
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
            keep = torch.tensor(tok["completion_mask"][1:], dtype=torch.bool, device=device)
            nll += -logp[keep].gather(1, ids[0, 1:][keep][:, None]).sum().item()
            entropy += -(logp[keep].exp() * logp[keep]).sum().item()
            count += int(keep.sum())
    assert diag["diag_tokens"] == count
    assert diag["nll"] == pytest.approx(nll / count, rel=tolerance)
    assert diag["entropy"] == pytest.approx(entropy / count, rel=tolerance)

    few = sequence_diagnostics(examples, str(tiny_model_dir), tokenizer, max_examples=2, device=device)
    assert few["diag_examples"] == 2


def test_label_guard_catches_changed_labels():
    from int_exp.training import _check_labels

    _check_labels([{"labels": [-100, 5]}, {"labels": [7]}], [[7], [-100, 5]])  # order does not matter
    with pytest.raises(RuntimeError, match="no-EOS"):
        _check_labels([{"labels": [-100, 5, 2]}], [[-100, 5]])  # e.g. an appended end-of-turn token


def test_correctness_reward_grades_conversational_completions():
    from int_exp.domains.reward import correctness_reward

    completions = [
        [{"role": "assistant", "content": "2 + 2 = 4, so the answer is \\boxed{4}."}],
        [{"role": "assistant", "content": "The answer is \\boxed{5}."}],
        [{"role": "assistant", "content": "no final answer"}],
        "plain text \\boxed{\\frac{1}{2}}",
    ]
    rewards = correctness_reward(completions, answer=["4", "4", "4", "0.5"], source=["x"] * 4)
    assert rewards == [1.0, 0.0, 0.0, 1.0]


def test_rl_skips_and_counts_prompts_that_do_not_fit_the_context(tiny_model_dir, caplog):
    """One oversized problem is dropped before GRPO (it would allocate for its whole length)."""
    import logging
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from int_exp.stages.rl import fitting

    ctx = SimpleNamespace(inputs={"policy": SimpleNamespace(model_path=tiny_model_dir)},
                          cfg=OmegaConf.create({"rl": {"max_completion_length": 64}, "model": {"max_context": 2048}}),
                          log=logging.getLogger("test"))
    short = {"prompt": [{"role": "user", "content": "What is 2 + 3?"}], "answer": "5", "source": "arith"}
    huge = {"prompt": [{"role": "user", "content": "1 + " * 20000 + "1 = ?"}], "answer": "20001", "source": "arith"}
    with caplog.at_level(logging.WARNING):
        kept, too_long = fitting(ctx, [short, huge, short])
    assert kept == [short, short] and too_long == 1
    assert "1 of 3 prompts do not fit the context" in caplog.text


def test_fast_grpo_generation_samples_what_trls_generate_does(tiny_model_dir, tmp_path, device):
    """With top_k=1 sampling is deterministic, so int_exp's decoder and TRL's model.generate path
    must give the very same completion tokens (EOS kept, nothing after it), one group per prompt."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from int_exp.backends.hf import encode_chats
    from int_exp.models import load_tokenizer
    from int_exp.training.grpo_generation import groups, trainer_class
    from int_exp.training.grpo_trainer import _grpo_arguments

    cfg = GRPOSettings(num_generations=2, per_device_batch_size=4, max_steps=1, max_completion_length=24,
                       temperature=0.7, trainer_kwargs=on(device))
    tokenizer = load_tokenizer(tiny_model_dir)
    chats = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "Name a prime number."}]]
    trainer = trainer_class()(
        model=str(tiny_model_dir), reward_funcs=lambda completions, **kw: [0.0] * len(completions),
        args=GRPOConfig(**_grpo_arguments(cfg, tmp_path), top_k=1),
        train_dataset=Dataset.from_list([{"prompt": c} for c in chats]), processing_class=tokenizer,
    )
    prompt_ids = [ids for ids in encode_chats(tokenizer, chats) for _ in range(2)]
    assert groups(prompt_ids, 2) == ([prompt_ids[0], prompt_ids[2]], 2)
    calls = trainer._int_exp_calls
    fast, _ = trainer._generate_single_turn(prompt_ids, None, {}, 2)
    assert trainer._int_exp_calls == calls + 1  # the fast path ran
    trl_own, _ = GRPOTrainer._generate_single_turn(trainer, prompt_ids, None, {}, 2)
    assert fast == trl_own
    assert all(0 < len(c) <= 24 for c in fast) and fast[0] == fast[1]


@pytest.mark.parametrize("fast", [True, False], ids=["int_exp decoder", "trl generate"])
def test_grpo_ends_completions_at_every_eos_id_the_model_declares(tiny_model_dir, tmp_path, device, fast):
    """A policy whose generation config lists two end ids (as Qwen3's does): the tokenizer's and the
    tiny model's likeliest token. Completions end at the first of either, whichever sampler runs,
    and TRL's completion masks count both as ends (its clipped ratio)."""
    import shutil

    import torch
    from transformers import GenerationConfig

    from int_exp.backends.hf import encode_chats
    from int_exp.models import load_causal_lm, load_tokenizer
    from int_exp.training import run_grpo

    tokenizer = load_tokenizer(tiny_model_dir)
    prompts = [{"prompt": [{"role": "user", "content": f"What is {i} + 1?"}], "answer": str(i + 1)} for i in range(4)]
    with torch.no_grad():
        first = load_causal_lm(tiny_model_dir)(torch.tensor(encode_chats(tokenizer, [prompts[0]["prompt"]])))
    second_end = int(first.logits[0, -1].argmax())
    assert second_end != tokenizer.eos_token_id
    policy = tmp_path / "two-ends"
    shutil.copytree(tiny_model_dir, policy)
    generation = GenerationConfig.from_pretrained(policy)
    generation.eos_token_id = [tokenizer.eos_token_id, second_end]
    generation.save_pretrained(policy)

    seen: list[list[int]] = []

    def by_length(completions, completion_ids, **kwargs):
        seen.extend(list(ids) for ids in completion_ids)
        return [float(len(ids)) for ids in completion_ids]

    cfg = GRPOSettings(num_generations=4, per_device_batch_size=8, max_steps=1, max_completion_length=16,
                   temperature=1.0, fast_generation=fast, trainer_kwargs={**on(device), "top_k": 2})
    logged: list[dict] = []
    run_grpo(prompts, str(policy), cfg, tmp_path / "out", reward_fn=by_length, log_fn=lambda m, s: logged.append(m))
    assert len(seen) == 8
    assert all(ids[-1] == second_end for ids in seen if second_end in ids)  # nothing after it
    ended = [ids[-1] in (tokenizer.eos_token_id, second_end) for ids in seen]
    assert any(ended) and all(e or len(ids) == 16 for e, ids in zip(ended, seen))  # else run to the limit
    clipped = [m["completions/clipped_ratio"] for m in logged if "completions/clipped_ratio" in m]
    assert clipped == [pytest.approx(1 - sum(ended) / len(ended))]  # TRL counts the second end as one
