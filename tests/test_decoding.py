"""The hf backend's decoding loop (int_exp/backends/decoding.py) against transformers' generate:
greedy tokens equal, the same top-k/top-p filters, EOS stops a row, finished rows dropped
without changing what the others produce, seeded draws reproducible. On the ``device`` fixture's
device (tests/conftest.py): CPU here, CUDA on a GPU machine."""

from __future__ import annotations

import pytest
import torch

from int_exp.backends.base import SamplingParams
from int_exp.backends.decoding import decode, filter_logits
from int_exp.backends.hf import encode_chats
from int_exp.models import load_causal_lm, load_tokenizer

CHATS = [[{"role": "user", "content": text}] for text in
         ("What is 2 + 3?", "Compute " + " + ".join(map(str, range(30))), "Name a prime.", "Hi")]


@pytest.fixture(scope="module")
def model_and_prompts(tiny_model_dir, device):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_causal_lm(tiny_model_dir, device=device).eval()
    return model, tokenizer, encode_chats(tokenizer, CHATS)


def generate_greedy(model, tokenizer, prompts, budget, eos_token_id=None):
    width = max(map(len, prompts))
    ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(p)) + p for p in prompts], device=model.device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=model.device)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=mask, max_new_tokens=budget, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=eos_token_id)
    return out[:, width:].tolist()


def test_greedy_tokens_equal_transformers_generate(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=24)
    with torch.inference_mode():
        ours = decode(model, prompts, 24, greedy, seed=0, eos_ids=[], pad_id=tokenizer.pad_token_id)
    assert ours == generate_greedy(model, tokenizer, prompts, 24)


def test_a_row_stops_at_eos_and_the_others_are_unchanged_by_dropping_it(model_and_prompts, monkeypatch):
    from int_exp.backends import decoding

    model, tokenizer, prompts = model_and_prompts
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=20)
    free = generate_greedy(model, tokenizer, prompts, 20)
    stop = free[0][3]  # the first row's 4th token becomes an end-of-sequence token
    with torch.inference_mode():
        ours = decode(model, prompts, 20, greedy, seed=0, eos_ids=[stop], pad_id=tokenizer.pad_token_id)
        monkeypatch.setattr(decoding, "COMPACT_SHARE", 2.0)  # never drop finished rows
        kept = decode(model, prompts, 20, greedy, seed=0, eos_ids=[stop], pad_id=tokenizer.pad_token_id)
    assert ours == kept
    for row, tokens in zip(free, ours):
        cut = row.index(stop) + 1 if stop in row else len(row)
        assert tokens == row[:cut]  # up to and including the first stop token, then nothing
    assert len(ours[0]) == free[0].index(stop) + 1 <= 4


def test_seeded_sampling_is_reproducible_and_seed_dependent(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    params = SamplingParams(n=1, temperature=1.0, top_p=0.9, top_k=50, max_tokens=12)
    with torch.inference_mode():
        runs = [decode(model, prompts, 12, params, seed=s, eos_ids=[], pad_id=tokenizer.pad_token_id) for s in (3, 3, 4)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert all(len(row) == 12 for row in runs[0])


def test_filters_match_transformers_warpers():
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(8, 300)
    for top_k, top_p in [(0, 1.0), (20, 1.0), (0, 0.8), (20, 0.8), (1, 0.5), (0, 0.01)]:
        expected = logits
        if top_k:
            expected = TopKLogitsWarper(top_k)(None, expected)
        if top_p < 1:
            expected = TopPLogitsWarper(top_p)(None, expected)
        assert torch.equal(filter_logits(logits, top_k, top_p), expected), (top_k, top_p)


def test_copies_share_one_prefill_and_match_decoding_repeated_prompts(model_and_prompts):
    model, tokenizer, prompts = model_and_prompts
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=10)
    sampled = SamplingParams(n=1, temperature=1.0, top_k=0, top_p=1.0, max_tokens=10)
    repeated = [p for p in prompts for _ in range(3)]
    with torch.inference_mode():
        once = decode(model, prompts, 10, greedy, seed=0, eos_ids=[], pad_id=tokenizer.pad_token_id)
        shared = decode(model, prompts, 10, greedy, seed=0, eos_ids=[], pad_id=tokenizer.pad_token_id, copies=3)
        draws = decode(model, prompts, 10, sampled, seed=5, eos_ids=[], pad_id=tokenizer.pad_token_id, copies=3)
        draws_repeated = decode(model, repeated, 10, sampled, seed=5, eos_ids=[], pad_id=tokenizer.pad_token_id)
    assert shared == [row for row in once for _ in range(3)]
    assert draws == draws_repeated  # the same rows, the same draws: only the prompt encodings are shared
    assert len({tuple(r) for r in draws[:3]}) > 1  # a prompt's samples differ


def stop_at_different_steps(rows):
    """A token whose first occurrence differs between rows and is not the first token of any."""
    def first(row, token):
        return row.index(token) if token in row else len(row)

    candidates = {t for row in rows for t in row[1:]} - {row[0] for row in rows}
    return max(candidates, key=lambda t: len({first(row, t) for row in rows}))


def varied_model(model, tokenizer, grouped: bool = True):
    """A random model of ``model``'s shape (grouped KV heads, or one per head) with large weights,
    so its tokens vary with the context, on ``model``'s device."""
    from transformers import LlamaForCausalLM

    heads = model.config.num_key_value_heads if grouped else model.config.num_attention_heads
    config = model.config.__class__(**{**model.config.to_dict(), "initializer_range": 1.0,
                                       "num_key_value_heads": heads})
    torch.manual_seed(0)
    varied = LlamaForCausalLM(config).to(model.device).eval()
    with torch.no_grad():  # a padding embedding that is not zero: only the mask keeps padding out of attention
        varied.get_input_embeddings().weight[tokenizer.pad_token_id].normal_()
    return varied


@pytest.mark.parametrize(("kv_heads", "unshare"), [("grouped", False), ("one per head", False), ("grouped", True)])
def test_copies_reading_one_prompt_cache_give_the_tokens_of_copied_caches(model_and_prompts, monkeypatch, kv_heads,
                                                                          unshare):
    """The shared-prefix attention (int_exp/backends/shared_prefix.py) against each row holding
    its own copy of the prompt's cache: the same greedy tokens, rows stopping at different steps
    (finished prompts leave the batch), for a grouped-query model and one with a KV head per head,
    and when the batch goes back to copies mid-way (finished rows of unfinished prompts)."""
    from int_exp.backends import decoding, shared_prefix

    unshared = []
    if unshare:
        monkeypatch.setattr(decoding, "UNSHARE_SHARE", 0.01)  # at the first finished row
        original = decoding._Batch.unshare
        monkeypatch.setattr(decoding._Batch, "unshare", lambda batch: (unshared.append(1), original(batch))[1])

    model, tokenizer, prompts = model_and_prompts
    model = varied_model(model, tokenizer, grouped=kv_heads == "grouped")
    assert shared_prefix.can_share(model)
    # Greedy copies of a prompt are identical and finish together; sampled ones finish apart, and
    # until the batch goes back to copies no row has left, so both ways draw the same.
    params = SamplingParams(n=1, temperature=1.0 if unshare else 0.0, top_k=0, top_p=1.0, max_tokens=24)
    with torch.inference_mode():
        free = decode(model, prompts, 24, params, seed=0, eos_ids=[], pad_id=tokenizer.pad_token_id, copies=3)
        stops = [stop_at_different_steps(free)]  # a token that ends rows early, at different steps
        shared = decode(model, prompts, 24, params, seed=0, eos_ids=stops, pad_id=tokenizer.pad_token_id, copies=3)
        monkeypatch.setattr(shared_prefix, "can_share", lambda _: False)
        copied = decode(model, prompts, 24, params, seed=0, eos_ids=stops, pad_id=tokenizer.pad_token_id, copies=3)
    assert shared == copied
    assert bool(unshared) == unshare
    assert len({len(row) for row in shared}) > 1  # rows did stop at different steps
    assert len({t for row in free for t in row}) > 8  # and the tokens depend on the context
    assert model.config._attn_implementation == "sdpa"  # restored after decoding


def emitting_eos(model, token: int, eos: int):
    """``model``, changed to write its end-of-sequence token where it wrote ``token`` and the other
    way round (their output rows swapped; the input embeddings, tied until now, stay as they were:
    the prompts' own end-of-turn tokens read the same)."""
    head = model.get_output_embeddings()
    head.weight = torch.nn.Parameter(head.weight.detach().clone())
    model.config.tie_word_embeddings = False
    with torch.no_grad():
        head.weight[[token, eos]] = head.weight[[eos, token]]
    return model


def swapped(row, a, b):
    return [b if t == a else a if t == b else t for t in row]


def until_first(row, token):
    return row[: row.index(token) + 1] if token in row else row


def test_rows_ending_with_the_models_eos_at_different_steps_decode_as_each_prompt_alone(model_and_prompts):
    """The batch drops finished rows (and, with copies, whole prompts reading one shared cache) while
    the others go on: each prompt gets what decoding it alone gives, and what generate gives."""
    model, tokenizer, prompts = model_and_prompts
    eos, pad, budget = tokenizer.eos_token_id, tokenizer.pad_token_id, 24
    greedy = SamplingParams(n=1, temperature=0.0, max_tokens=budget)
    model = varied_model(model, tokenizer)
    free = generate_greedy(model, tokenizer, prompts, budget)
    token = stop_at_different_steps(free)
    model = emitting_eos(model, token, eos)
    with torch.inference_mode():
        batched = decode(model, prompts, budget, greedy, seed=0, eos_ids=[eos], pad_id=pad)
        copies = decode(model, prompts, budget, greedy, seed=0, eos_ids=[eos], pad_id=pad, copies=3)
        alone = [decode(model, [p], budget, greedy, seed=0, eos_ids=[eos], pad_id=pad)[0] for p in prompts]
    generated = [until_first(generate_greedy(model, tokenizer, [p], budget, eos_token_id=eos)[0], eos) for p in prompts]
    # Up to its first end, a row is the unchanged model's with the two tokens' names swapped.
    assert batched == [until_first(swapped(row, token, eos), eos) for row in free]
    ends = [len(row) for row in batched if row[-1] == eos]
    assert len(set(ends)) > 1 and len(ends) < len(batched)  # rows end at different steps, one runs on
    assert batched == alone == generated
    assert copies == [row for row in batched for _ in range(3)]
