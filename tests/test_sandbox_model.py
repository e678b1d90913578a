"""The sandbox model (int_exp/sandbox.py): tokenizer, chat template, a tiny training run, and
(slow) the calibrated default build."""

from __future__ import annotations

import dataclasses
import json

import pytest

from int_exp.domains.arith.generator import arith_table, generate_problems
from int_exp.domains.arith.sandbox_model import (
    CARD_NAME,
    END,
    build_tokenizer,
    encode_example,
    load_card,
    train_sandbox_model,
)
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig

TINY = SandboxModelConfig(
    hidden_size=64, num_layers=1, num_heads=2, intermediate_size=128, max_position_embeddings=512,
    train_problems=64, train_min_ops=1, train_max_ops=2, train_steps=30, batch_size=8,
    learning_rate=3e-3, warmup_steps=3, eval_problems=0, num_threads=1, optimizer="muon",
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sandbox-tokenizer")
    build_tokenizer().save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def reloaded(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


def _texts() -> list[str]:
    table = arith_table(dataclasses.asdict(ArithConfig(min_steps=1, max_steps=7)), "test", 12)
    texts = []
    for row in table.itertuples():
        texts += [row.problem, row.reference_detailed, row.reference_terse]
    return texts + ["<intervention>{\"content\": \"12 × 3 = 36\", \"location\": 2}</intervention>\n\n  tabs\tand ÷"]


def test_tokenizer_round_trips_every_character(reloaded):
    fresh = build_tokenizer()
    for tok in (fresh, reloaded):
        for text in _texts():
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert len(ids) == len(text)  # one token per character
            assert tok.unk_token_id not in ids
            assert tok.decode(ids) == text
            assert tok.decode(ids, skip_special_tokens=True) == text


def test_reload_keeps_special_tokens_and_left_padding(reloaded):
    assert reloaded.padding_side == "left"
    assert reloaded.eos_token == END and reloaded.pad_token == "<|pad|>"
    assert reloaded.pad_token_id != reloaded.eos_token_id
    batch = reloaded(["Start: 1", "Start: 12345"], padding=True, add_special_tokens=False)
    assert batch["input_ids"][0][:4] == [reloaded.pad_token_id] * 4
    assert batch["attention_mask"][0] == [0] * 4 + [1] * 8
    # specials are single tokens, also inside text
    ids = reloaded("<|user|>hi<|end|>", add_special_tokens=False)["input_ids"]
    assert len(ids) == 4 and ids[-1] == reloaded.eos_token_id


def test_chat_template_generation_prompt(reloaded):
    chat = [{"role": "user", "content": "Start with 2. Add 3. What is the result?"}]
    text = reloaded.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>Start with 2. Add 3. What is the result?<|end|><|assistant|>"
    system = [{"role": "system", "content": "Be exact."}, *chat]
    assert reloaded.apply_chat_template(system, tokenize=False).startswith("<|system|>Be exact.<|end|><|user|>")
    ids = reloaded.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert reloaded.decode(ids) == text


@pytest.mark.parametrize("partial", ["Start: 2\n\n2 + 3 = 5\n\n", "Start: 2\n\n2 + 3 =", "Start: 2"])
def test_continue_final_message_ends_with_the_partial_text(reloaded, partial):
    chat = [{"role": "user", "content": "Start with 2. Add 3. What is the result?"},
            {"role": "assistant", "content": partial}]
    text = reloaded.apply_chat_template(chat, tokenize=False, continue_final_message=True)
    assert text.endswith("<|assistant|>" + partial)
    assert END not in text[text.index("<|assistant|>"):]


def test_rendering_matches_the_backends(reloaded):
    from int_exp.backends.hf import render_chat

    problem = "Start with 2. Add 3. What is the result?"
    ids, n_prompt = encode_example(reloaded, problem, "Start: 2")
    assert reloaded.decode(ids[:n_prompt]) == render_chat(reloaded, [{"role": "user", "content": problem}])
    assert ids[-1] == reloaded.eos_token_id


@pytest.fixture(scope="module")
def tiny_sandbox_dir(tmp_path_factory):
    """A tiny sandbox built through the model stage's entry point, with Hydra-style configs."""
    from omegaconf import OmegaConf

    from int_exp.domains.schema import schemas
    from int_exp.stages.model import builtin

    out = tmp_path_factory.mktemp("tiny-sandbox")
    ns = schemas()
    cfg = OmegaConf.create({
        "model": OmegaConf.structured(ns.ModelConfig(name="sandbox", name_or_path="builtin:sandbox", sandbox=TINY)),
        "data": OmegaConf.structured(ns.DataConfig(arith=ArithConfig(max_operand=20, max_multiplier=5, max_value=999))),
    })
    builtin("builtin:sandbox").build(cfg, out)
    return out


def test_tiny_training_run_produces_a_loadable_model(tiny_sandbox_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    card = load_card(tiny_sandbox_dir)
    assert card["train_steps"] == 30 and card["parameters"] > 0
    assert card["loss_last"] < card["loss_first"] - 0.5, card
    assert card["arith"]["max_operand"] == 20 and card["config"]["train_steps"] == 30
    assert card["config"]["optimizer"] == "muon"
    assert json.loads((tiny_sandbox_dir / CARD_NAME).read_text()) == card
    assert card["precision"]["precision"] == ("bf16" if card["bf16"] else "fp32"), card["precision"]
    model = AutoModelForCausalLM.from_pretrained(str(tiny_sandbox_dir))
    tok = AutoTokenizer.from_pretrained(str(tiny_sandbox_dir))
    assert model.config.hidden_size // model.config.num_attention_heads >= 32
    assert model.config.vocab_size == len(tok)
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert tok.padding_side == "left"


def test_hf_backend_generates_and_continues(tiny_sandbox_dir):
    from omegaconf import OmegaConf

    from int_exp.backends import SamplingParams, make_backend
    from int_exp.config import BackendConfig

    backend = make_backend(
        OmegaConf.structured(BackendConfig(name="hf", batch_size=4, device="cpu", isolate=False)),
        str(tiny_sandbox_dir), max_context=512,
    )
    try:
        problem = "Start with 2. Add 3, then multiply by 4. What is the result?"
        partial = "Start: 2\n\n2 + 3 = 5\n\n"
        chats = [[{"role": "user", "content": problem}],
                 [{"role": "user", "content": problem}, {"role": "assistant", "content": partial}]]
        assert backend.render(chats[1]).endswith("<|assistant|>" + partial)
        out = backend.generate(chats, SamplingParams(n=2, temperature=0.8, top_p=1.0, top_k=0, max_tokens=24))
        assert [len(o) for o in out] == [2, 2]
        assert all(isinstance(t, str) and "<|" not in t for o in out for t in o)
    finally:
        backend.close()


def test_rejects_small_heads(tmp_path):
    bad = dataclasses.replace(TINY, hidden_size=48, num_heads=2)
    with pytest.raises(ValueError, match="head_dim"):
        train_sandbox_model(bad, ArithConfig(), tmp_path)


@pytest.mark.parametrize("name", ["muon", "adamw"])
def test_optimizers_cover_every_parameter_once(tokenizer_dir, name):
    """Muon takes the attention and MLP matrices; AdamW the tied embedding and the norms (or all)."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from int_exp.domains.arith.sandbox_training import make_optimizers as _optimizers
    from int_exp.models import small_llama_config

    cfg = dataclasses.replace(TINY, optimizer=name, num_layers=2)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model = LlamaForCausalLM(small_llama_config(tok, cfg, num_kv_heads=cfg.num_heads, bos_token_id=None))
    pairs = _optimizers(cfg, model)
    owner = {id(p): type(opt).__name__ for opt, _ in pairs for g in opt.param_groups for p in g["params"]}
    assert len(owner) == sum(len(g["params"]) for opt, _ in pairs for g in opt.param_groups)  # no parameter twice
    by_name = {n: owner[id(p)] for n, p in model.named_parameters()}
    assert len(by_name) == len(owner)  # and none left out
    if name == "adamw":
        assert set(by_name.values()) == {"AdamW"}
    else:
        assert by_name["model.embed_tokens.weight"] == "AdamW" and by_name["model.norm.weight"] == "AdamW"
        assert by_name["model.layers.1.self_attn.q_proj.weight"] == "BatchedMuon"
        assert by_name["model.layers.0.mlp.down_proj.weight"] == "BatchedMuon"
        muon = next(opt for opt, _ in pairs if isinstance(opt, torch.optim.Muon))
        assert muon.param_groups[0]["lr"] == pytest.approx(cfg.muon_learning_rate / cfg.warmup_steps)  # warmup step 0
    assert all(s.get_last_lr()[0] < opt.defaults["lr"] for opt, s in pairs)


def test_unknown_optimizer_names_itself(tmp_path):
    bad = dataclasses.replace(TINY, optimizer="sgd")
    with pytest.raises(ValueError, match="model.sandbox.optimizer: 'sgd' is not one of muon, adamw"):
        train_sandbox_model(bad, ArithConfig(), tmp_path)


def test_training_problems_are_easy_and_medium_pretrain():
    from int_exp.domains.arith.generator import split_of
    from int_exp.domains.arith.sandbox_model import pretrain_problems

    cfg = dataclasses.replace(TINY, train_problems=50, train_min_ops=1, train_max_ops=5)
    problems = pretrain_problems(cfg, ArithConfig())
    assert len(problems) == 50
    assert all(1 <= p.num_steps <= 5 and split_of(p.text) == "pretrain" for p in problems)
    test_texts = {p.text for p in generate_problems(dataclasses.asdict(ArithConfig(min_steps=1, max_steps=5)), "test", 200)}
    assert not test_texts & {p.text for p in problems}


@pytest.mark.slow
def test_default_sandbox_is_calibrated(tmp_path):
    """Builds the default sandbox (minutes on 2 cores) and checks sampled accuracy by difficulty
    through the hf backend."""
    from int_exp.domains.arith.sandbox_eval import evaluate_sandbox
    from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH

    arith = ArithConfig(**SANDBOX_ARITH)
    train_sandbox_model(SandboxModelConfig(eval_problems=0), arith, tmp_path)
    result = evaluate_sandbox(tmp_path, arith, n_problems=32, n_samples=2, temperature=0.8)
    summary = result["summary"]
    assert summary["easy"]["accuracy"] >= 0.6, summary  # 78% measured (48 x 4, T=0.8)
    assert 0.05 <= summary["hard"]["accuracy"] <= 0.7, summary
    assert summary["easy"]["accuracy"] > summary["hard"]["accuracy"]
    fails = [r for r in result["rows"] if r["band"] == "hard" and not r["correct"]]
    assert sum(r["diagnosable"] for r in fails) >= 0.8 * len(fails)


def test_the_verification_phase_trains_on_own_failures_and_both_turns(tmp_path):
    """A tiny build with the self-verification phase: each task gets its examples, the tail checks
    the card's hard accuracy every ``verify_check_every`` steps (a target it does not reach: all
    its steps), and the last phase trains on the model's own failures, sampled after the tail;
    the card records each phase's steps."""
    import dataclasses

    cfg = dataclasses.replace(TINY, verify_steps=6, verify_copy_steps=2, verify_pre_steps=3, verify_own_problems=8,
                              verify_min_ops=1, verify_share=0.5, verify_tail_steps=6, verify_check_every=2,
                              verify_tail_stop_hard=1.0, verify_own_steps=4, eval_problems=2,
                              min_hard_accuracy=0.0, max_position_embeddings=768)
    train_sandbox_model(cfg, ArithConfig(max_operand=20, max_multiplier=5, max_value=999), tmp_path)
    stats = load_card(tmp_path)["verification_training"]
    assert 0 <= stats["own_failures"] <= 8
    # perturbed attempts: (long + tail + own steps) x batch / 2 problems, each a turn-1 and a verification example
    n = (6 + 6 + 4) * 8 // 2
    assert stats["examples"]["solve_ref"] == stats["examples"]["mark"] == stats["examples"]["verify"] == n
    assert stats["examples"]["own"] <= stats["own_failures"]  # where the log can describe them (nearly all)
    assert stats["examples"]["mark_short"] == 3 * 8  # verify_pre_steps x batch
    assert stats["examples"]["copy"] == 2 * 8  # verify_copy_steps x batch
    assert stats["examples"]["solve"] == 64
    assert stats["steps"] == {"copy": 2, "short": 3, "long": 6, "tail": 6, "own": 4}
    assert [check["step"] for check in stats["tail_checks"]] == [2, 4]
    assert all(0 <= check["hard"] < 1 for check in stats["tail_checks"])
    assert set(stats["loss_last"]) == {"copy", "short", "long", "tail", "own"}
    assert set(stats["loss_last"]["long"]) <= {"verify", "mark", "solve_ref", "solve"}
    assert set(stats["loss_last"]["own"]) <= {"verify", "mark", "own", "solve_ref", "solve"}
    assert all(loss > 0 for phase in stats["loss_last"].values() for loss in phase.values() if loss)


def test_a_build_below_the_floor_trains_on_until_max_extensions(tmp_path):
    """A card under ``min_hard_accuracy`` gets ``extend_steps`` more steps, at most
    ``max_extensions`` times; the card records each extension and counts its steps."""
    cfg = dataclasses.replace(TINY, eval_problems=2, min_hard_accuracy=1.01, extend_steps=4, max_extensions=2)
    train_sandbox_model(cfg, ArithConfig(max_operand=20, max_multiplier=5, max_value=999), tmp_path)
    card = load_card(tmp_path)
    assert card["train_steps"] == 30 + 2 * 4
    first, second = card["extensions"]
    assert first["steps"] == second["steps"] == 4
    assert first["hard_after"] == second["hard_before"]
    assert second["hard_after"] == card["eval"]["hard"]["accuracy"]


def test_a_build_with_no_floor_is_never_extended(tmp_path):
    cfg = dataclasses.replace(TINY, eval_problems=2, min_hard_accuracy=0.0)
    train_sandbox_model(cfg, ArithConfig(max_operand=20, max_multiplier=5, max_value=999), tmp_path)
    card = load_card(tmp_path)
    assert card["train_steps"] == 30 and card["extensions"] == []
    assert set(card["eval"]) == {"easy", "medium", "hard"}


def test_each_long_phase_mixes_its_shares_and_names_a_bad_pair():
    """The long phase and the tail each split their batches: verification, marking, and the rest
    solving, 40% of it turn 1; shares that do not leave room for solving name their keys."""
    import dataclasses

    from int_exp.domains.arith.verification_training import _chat_mix

    cfg = dataclasses.replace(TINY, verify_share=0.45, verify_mark_share=0.35, verify_tail_share=0.35,
                              verify_tail_mark_share=0.2)
    long_mix = _chat_mix(cfg, "verify_share", "verify_mark_share")
    assert long_mix == pytest.approx({"verify": 0.45, "mark": 0.35, "solve_ref": 0.08, "solve": 0.12})
    tail_mix = _chat_mix(cfg, "verify_tail_share", "verify_tail_mark_share")
    assert tail_mix == pytest.approx({"verify": 0.35, "mark": 0.2, "solve_ref": 0.18, "solve": 0.27})
    with pytest.raises(ValueError, match="verify_tail_share \\+ verify_tail_mark_share.*0.7 \\+ 0.5"):
        _chat_mix(dataclasses.replace(cfg, verify_tail_share=0.7, verify_tail_mark_share=0.5),
                  "verify_tail_share", "verify_tail_mark_share")
    own_mix = _chat_mix(cfg, "verify_own_phase_share", "verify_own_phase_mark_share", "verify_own_share")
    assert own_mix == pytest.approx({"verify": 0.2, "mark": 0.2, "own": 0.2, "solve_ref": 0.16, "solve": 0.24})


def test_a_phase_ends_at_the_first_check_its_stop_accepts(tiny_sandbox_dir):
    """``_train_mix`` asks ``stop`` every ``verify_check_every`` steps (never after the last)
    and ends the phase at the first true answer; it reports the steps it took."""
    import random

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from int_exp.domains.arith.verification_training import _train_mix

    tokenizer = AutoTokenizer.from_pretrained(tiny_sandbox_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_sandbox_dir).train()
    problems = generate_problems(ArithConfig(max_operand=20, max_multiplier=5, max_value=999), "pretrain", 16)
    pools = {"solve": [encode_example(tokenizer, p.text, p.detailed()) for p in problems]}
    cfg = dataclasses.replace(TINY, verify_check_every=3)
    asked = []

    def run(stop_at: int) -> int:
        def stop(step: int) -> bool:
            asked.append(step)
            return step >= stop_at
        _, steps = _train_mix(cfg, model, pools, {"solve": 1.0}, 10, random.Random(0), tokenizer.pad_token_id, "cpu",
                              False, "test", 0.1, stop)
        return steps

    assert run(stop_at=6) == 6 and asked == [3, 6]
    asked.clear()
    assert run(stop_at=99) == 10 and asked == [3, 6, 9]
