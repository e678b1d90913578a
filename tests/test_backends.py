"""The hf generation backend on the tiny model, prompt rendering, make_backend and isolation; on the
``device`` fixture's device (tests/conftest.py)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from int_exp.backends import backend_names, derive_seed, make_backend
from int_exp.backends.base import SamplingParams
from int_exp.config import BackendConfig

QUESTION = [{"role": "user", "content": "What is 2 + 3?"}]
LONG_QUESTION = [
    {
        "role": "user",
        "content": "Compute the sum of the following numbers: " + " + ".join(map(str, range(40))),
    }
]
PARTIAL = "Step 1: add the first two numbers. 2 + 3 ="


def continuation(text: str) -> list[dict[str, str]]:
    return QUESTION + [{"role": "assistant", "content": text}]


@pytest.fixture(scope="module")
def hf(tiny_model_dir, device):
    backend = make_backend(BackendConfig(name="hf", batch_size=2, device=device), str(tiny_model_dir))
    yield backend
    backend.close()


def test_import_is_light():
    code = (
        "import sys, int_exp.backends, int_exp.backends.base; "
        "heavy = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_backend_name_lists_valid_names(tiny_model_dir):
    with pytest.raises(ValueError) as err:
        make_backend(BackendConfig(name="tgi"), str(tiny_model_dir))
    assert {"hf", "vllm", "openai"} <= set(backend_names())  # the loop below checks every builtin
    for name in backend_names():
        assert name in str(err.value)
    assert "tgi" in str(err.value)


def test_continuation_is_rendered_without_end_of_turn(hf):
    from int_exp.backends.hf import render_chat

    text = render_chat(hf.tokenizer, continuation(PARTIAL))
    assert text.endswith(PARTIAL)
    assert text.count("<|im_start|>assistant") == 1
    assert not text.rstrip().endswith("<|im_end|>")
    # Trailing whitespace of the partial message survives (the model continues right after it).
    assert render_chat(hf.tokenizer, continuation("Step 1:\n")).endswith("Step 1:\n")
    # A normal chat ends with the generation prompt instead.
    fresh = render_chat(hf.tokenizer, QUESTION)
    assert fresh.endswith("<|im_start|>assistant\n")
    assert fresh.count("<|im_end|>") == text.count("<|im_end|>") == 2  # system + user turns


def test_n_samples_per_prompt_in_input_order(hf, tiny_model_dir):
    # Continuations of different lengths: greedy output depends on the partial text, so a
    # swapped order would show. Batched (sorted by length, left-padded) == one at a time.
    chats = [
        continuation("The"),
        continuation(PARTIAL + " 5. Step 2: multiply 5 by 7 and"),
        continuation("42 +"),
    ]
    params = SamplingParams(n=3, temperature=0.0, max_tokens=8)
    batched = hf.generate(chats, params)
    assert [len(samples) for samples in batched] == [3, 3, 3]
    alone = [hf.generate([chat], params)[0] for chat in chats]
    assert batched == alone
    assert len({samples[0] for samples in batched}) == 3

    sampled = hf.generate([QUESTION, LONG_QUESTION, continuation(PARTIAL)], SamplingParams(n=4, max_tokens=6))
    assert [len(s) for s in sampled] == [4, 4, 4]
    assert all(isinstance(t, str) for s in sampled for t in s)


def test_seeding(hf):
    import torch

    chats = [QUESTION, LONG_QUESTION, continuation(PARTIAL)]
    rng = torch.random.get_rng_state()
    a = hf.generate(chats, SamplingParams(n=2, max_tokens=8, seed=1))
    assert torch.equal(rng, torch.random.get_rng_state())  # the caller's RNG stream is untouched
    b = hf.generate(chats, SamplingParams(n=2, max_tokens=8, seed=1))
    c = hf.generate(chats, SamplingParams(n=2, max_tokens=8, seed=2))
    assert a == b
    assert a != c
    assert len({t for s in a for t in s}) > 1  # samples differ from each other


def test_temperature_zero_gives_identical_samples(hf):
    out = hf.generate([QUESTION, continuation(PARTIAL)], SamplingParams(n=3, temperature=0.0, max_tokens=8))
    assert len(out) == 2  # the loop below checks every prompt
    for samples in out:
        assert len(samples) == 3 and len(set(samples)) == 1


def test_max_tokens_respected(hf, monkeypatch):
    generated: list[int] = []
    decode = hf._decode

    def recording_decode(tokens):
        generated.append(len(tokens))
        return decode(tokens)

    monkeypatch.setattr(hf, "_decode", recording_decode)
    out = hf.generate(
        [QUESTION, LONG_QUESTION], SamplingParams(n=3, max_tokens=5, temperature=1.0, top_p=1.0, top_k=0)
    )
    assert generated and max(generated) <= 5
    assert [len(samples) for samples in out] == [3, 3]  # the loop below checks every sample
    for samples in out:
        for text in samples:
            assert len(hf.tokenizer.encode(text, add_special_tokens=False)) <= 5


def test_long_prompts_clip_max_tokens_instead_of_failing(tiny_model_dir, device):
    from int_exp.backends.hf import HFBackend, encode_chats

    backend = HFBackend(str(tiny_model_dir), batch_size=4, device=device)
    try:
        short_len, long_len = (len(x) for x in encode_chats(backend.tokenizer, [QUESTION, LONG_QUESTION]))
        assert long_len > short_len + 10
        backend.context = long_len + 3  # the long prompt has room for 3 new tokens
        recorded: list[int] = []
        decode = backend._decode
        backend._decode = lambda tokens: (recorded.append(len(tokens)), decode(tokens))[1]
        out = backend.generate(
            [QUESTION, LONG_QUESTION], SamplingParams(n=2, max_tokens=8, temperature=1.0, top_k=0)
        )
        assert [len(s) for s in out] == [2, 2]
        # Full-budget batches run first, then the clipped prompts with the longest one's budget.
        assert recorded[:2] == [8, 8] and max(recorded[2:]) <= 3
        backend.context = long_len  # no room at all: no samples (the stage skips and counts it), no exception
        out = backend.generate([LONG_QUESTION, QUESTION], SamplingParams(n=2, max_tokens=4))
        assert out[0] == [] and len(out[1]) == 2
    finally:
        backend.close()


def test_plan_batches_groups_clipped_prompts_under_the_longest_budget():
    from int_exp.backends.hf import plan_batches

    ids = [[0] * n for n in (5, 50, 9, 48, 40, 100)]
    budgets = [8, 3, 8, 5, 8, 0]  # prompt 5 fills the context
    assert plan_batches(ids, budgets, max_tokens=8, batch_size=2) == [
        ([4, 2], 8),
        ([0], 8),
        ([1, 3], 3),  # clipped: batched together, the longest prompt's budget for both
    ]


def test_plan_batches_keeps_to_a_token_budget():
    from int_exp.backends.hf import plan_batches

    ids = [[1] * 10, [1] * 2, [1] * 6, [1] * 2]  # + 8 new tokens: 18, 10, 14, 10 positions
    assert plan_batches(ids, [8] * 4, max_tokens=8, batch_size=4) == [([0, 2, 1, 3], 8)]
    # 40 positions per batch: the longest prompts alone or in pairs, the short ones together
    assert plan_batches(ids, [8] * 4, max_tokens=8, batch_size=4, batch_tokens=40) == [([0, 2], 8), ([1, 3], 8)]
    assert plan_batches(ids, [8] * 4, max_tokens=8, batch_size=4, batch_tokens=20) == [([0], 8), ([2], 8), ([1, 3], 8)]


def test_progress_bar_counts_decoding_steps(tiny_model_dir, device):
    from tqdm import tqdm

    from int_exp.backends.hf import HFBackend, encode_chats

    backend = HFBackend(str(tiny_model_dir), batch_size=4, device=device)
    try:
        ids = encode_chats(backend.tokenizer, [QUESTION])
        params = SamplingParams(n=2, max_tokens=6, temperature=1.0, top_k=0)
        bar = tqdm(total=6, file=io.StringIO())
        texts = backend._generate_batch(ids, 6, params, 1, bar)
        assert len(texts) == 1 and len(texts[0]) == 2
        assert bar.n == 6  # each decoding step, then whatever an early stop left of the budget
    finally:
        backend.close()


def test_derive_seed_is_stable_and_spread():
    assert derive_seed(0, 1) == derive_seed(0, 1)
    assert len({derive_seed(0, i) for i in range(100)}) == 100
    assert derive_seed(0, 1) != derive_seed(1, 1)
    assert all(0 <= derive_seed(s, i) < 2**31 for s in range(3) for i in range(3))


def test_isolated_hf_matches_in_process(hf, tiny_model_dir, device):
    from int_exp.backends.isolated import IsolatedBackend

    chats = [QUESTION, LONG_QUESTION, continuation(PARTIAL)]
    params = SamplingParams(n=2, max_tokens=8, seed=7)
    isolated = make_backend(BackendConfig(name="hf", batch_size=2, isolate=True, device=device), str(tiny_model_dir))
    try:
        assert isinstance(isolated, IsolatedBackend)
        assert isolated.generate(chats, params, desc="isolated") == hf.generate(chats, params)
        # The engine stays alive in the child between calls.
        assert isolated.generate(chats[:1], params) == hf.generate(chats[:1], params)
    finally:
        isolated.close()
    assert not isolated._proc.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        isolated.generate(chats, params)


def test_isolated_child_errors_are_reported(tmp_path):
    from int_exp.backends.isolated import IsolatedBackend, RemoteBackendError

    # The child fails while building its backend: the parent raises with the child's traceback.
    with pytest.raises(RemoteBackendError, match="unknown backend 'nope'") as err:
        IsolatedBackend({"name": "nope"}, str(tmp_path))
    assert "child traceback" in str(err.value)


def wide_build(opts, model_path, *, dtype, max_context):
    """A plugin backend whose engine spans three GPUs (it declares so below); never built here."""
    raise AssertionError("the GPU count fails first")


wide_build.gpus_per_replica = lambda opts: 3


@pytest.mark.parametrize("name, per_replica", [("hf", 1), ("vllm", 2), ("wide", 3)])
def test_data_parallel_gives_each_replica_the_gpus_its_backend_declares(monkeypatch, name, per_replica):
    from int_exp.backends.engines import gpus_per_replica, options
    from int_exp.backends.isolated import DataParallelBackend

    monkeypatch.setenv("INT_EXP_BACKENDS", "wide=tests.test_backends:wide_build")
    opts = {"name": name, "tensor_parallel_size": 2, "data_parallel_size": 2}
    assert gpus_per_replica(options(opts)) == per_replica  # vllm: its tensor_parallel_size
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.raises(ValueError, match=rf"2 x {per_replica} GPU\(s\) per replica needs {2 * per_replica} GPUs"):
        DataParallelBackend(opts, "unused")  # fails before any replica starts


def test_data_parallel_replicas_split_the_prompts(hf, tiny_model_dir, device):
    from int_exp.backends.isolated import DataParallelBackend, _visible_gpus

    if 0 < len(_visible_gpus()) < 2:
        pytest.skip("two hf replicas need two GPUs where any is visible")

    chats = [QUESTION, LONG_QUESTION, continuation(PARTIAL), continuation("The"), QUESTION]
    params = SamplingParams(n=2, max_tokens=6, seed=11)
    dp = make_backend(BackendConfig(name="hf", batch_size=2, data_parallel_size=2, device=device), str(tiny_model_dir))
    try:
        assert isinstance(dp, DataParallelBackend) and len(dp.replicas) == 2
        out = dp.generate(chats, params)
    finally:
        dp.close()
    # Replica r gets a contiguous shard and generates it as the in-process backend would,
    # seeded by the shard's position in the whole call.
    assert out == hf.generate(chats[:3], params) + hf.generate(chats[3:], params, first_index=3)
    assert not any(r._proc.is_alive() for r in dp.replicas)  # both closed


def test_grouped_decoding_on_cpu_matches_sdpa(hf, tiny_model_dir, device):
    import torch

    if device != "cpu":
        pytest.skip("grouped decoding is the CPU's attention (int_exp/backends/cpu_attention.py)")

    from int_exp.backends.cpu_attention import NAME, use_grouped_decoding
    from int_exp.backends.hf import encode_chats
    from int_exp.models import load_causal_lm

    assert hf.model.config._attn_implementation == NAME  # the tiny model groups its KV heads
    reference = load_causal_lm(str(tiny_model_dir), dtype="float32", device="cpu").eval()
    assert reference.config._attn_implementation == "sdpa"
    ids = encode_chats(hf.tokenizer, [QUESTION, LONG_QUESTION, continuation(PARTIAL)])
    width = max(map(len, ids))
    input_ids = torch.tensor([[hf.pad_id] * (width - len(x)) + x for x in ids])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
    kwargs = {"attention_mask": mask, "max_new_tokens": 12, "do_sample": False, "pad_token_id": hf.pad_id}
    with torch.inference_mode():
        expected = reference.generate(input_ids, **kwargs)
        assert use_grouped_decoding(reference)
        assert torch.equal(reference.generate(input_ids, **kwargs), expected)
