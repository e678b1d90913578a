"""precision: auto (int_exp/models/precision.py): bf16 autocast or fp32, chosen by timing."""

from __future__ import annotations

import pytest

from int_exp.models import precision
from int_exp.models.precision import choose_bf16, time_passes


@pytest.fixture(scope="module")
def tiny_model_and_batch():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=1,
                         num_key_value_heads=1, intermediate_size=64, max_position_embeddings=64)
    ids = torch.randint(0, 50, (2, 16))
    return LlamaForCausalLM(config), (ids, ids.clone())


def test_configured_precision_is_taken_as_given(tiny_model_and_batch):
    model, batch = tiny_model_and_batch

    def never(*args):
        raise AssertionError("a configured precision is not measured")

    assert choose_bf16("fp32", "cpu", model, batch, timer=never) == (False, {"precision": "fp32", "how": "configured"})
    assert choose_bf16("bf16", "cpu", model, batch, timer=never)[0] is True
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16, got 'fp16'"):
        choose_bf16("fp16", "cpu", model, batch)


@pytest.mark.parametrize(("fp32_s", "bf16_s", "expected"), [(0.30, 0.20, True), (0.20, 0.30, False)])
def test_auto_takes_the_faster_on_a_cpu_with_native_bf16(monkeypatch, tiny_model_and_batch, fp32_s, bf16_s, expected):
    model, batch = tiny_model_and_batch
    monkeypatch.setattr(precision, "has_native_bf16", lambda device: True)
    bf16, how = choose_bf16("auto", "cpu", model, batch, timer=lambda m, b, d, use_bf16: bf16_s if use_bf16 else fp32_s)
    assert bf16 is expected
    assert how == {"precision": "bf16" if expected else "fp32", "how": "measured",
                   "pass_seconds": {"fp32": fp32_s, "bf16": bf16_s}}


def test_auto_is_fp32_without_native_bf16(monkeypatch, tiny_model_and_batch):
    model, batch = tiny_model_and_batch
    monkeypatch.setattr(precision, "has_native_bf16", lambda device: False)
    assert choose_bf16("auto", "cpu", model, batch, timer=lambda *a: 0.0)[0] is False


def test_timing_leaves_the_model_untouched(tiny_model_and_batch):
    model, batch = tiny_model_and_batch
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = time_passes(model, batch, "cpu", bf16=False, warmup=1, repeats=2)
    assert 0 < seconds < 10
    assert all(p.grad is None for p in model.parameters())
    assert all((before[k] == v).all() for k, v in model.state_dict().items())
