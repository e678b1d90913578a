"""Generation throughput of the hf and vllm backends on the tiny model.

    python benchmarks/generation_bench.py                       # 16 prompts x 4 samples x 128 tokens
    python benchmarks/generation_bench.py --backends hf --prompts 32 --max-tokens 256
    python benchmarks/generation_bench.py --model /path/to/hf/folder --dtype bfloat16   # a real model

On a CPU shared with other processes, torch's default thread count can make a tiny model's matmuls
dozens of times slower (threads wait on each other): try ``--threads 1`` or ``OMP_NUM_THREADS=1``.
With a 49k vocabulary and a tiny model, top-k/top-p over the vocabulary costs more than the model.

Prints one row per backend: engine start-up, generation wall time (after one warm-up call), new
tokens (the outputs re-tokenised) and tokens per second. The tiny model is random, so it seldom
emits EOS and nearly every sample runs to max_tokens.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def make_chats(count: int) -> list[list[dict[str, str]]]:
    chats = []
    for i in range(count):
        question = f"Problem {i}: compute " + " + ".join(str(7 * j + i) for j in range(2 + i % 7)) + "."
        chat = [{"role": "user", "content": question}]
        if i % 4 == 3:  # some continuations, as in intervention-guided rollouts
            chat.append({"role": "assistant", "content": f"Step 1: start with {i}."})
        chats.append(chat)
    return chats


def bench(name: str, model_dir: str, args: argparse.Namespace) -> dict:
    from int_exp.backends import make_backend
    from int_exp.backends.base import SamplingParams
    from int_exp.config import BackendConfig
    from int_exp.models import load_tokenizer

    cfg = BackendConfig(
        name=name, batch_size=args.batch_size, max_model_len=args.max_model_len if name == "vllm" else None
    )
    start = time.perf_counter()
    backend = make_backend(cfg, model_dir, dtype=args.dtype)
    startup = time.perf_counter() - start
    chats = make_chats(args.prompts)
    params = SamplingParams(
        n=args.samples,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        seed=0,
    )
    try:
        backend.generate(chats[:2], SamplingParams(n=1, max_tokens=8), desc=f"{name} warm-up")
        start = time.perf_counter()
        out = backend.generate(chats, params, desc=name)
        seconds = time.perf_counter() - start
    finally:
        backend.close()
    tokenizer = load_tokenizer(model_dir)
    tokens = sum(len(tokenizer.encode(t, add_special_tokens=False)) for samples in out for t in samples)
    return {
        "backend": name,
        "startup_s": startup,
        "generate_s": seconds,
        "tokens": tokens,
        "tok_per_s": tokens / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="hf,vllm")
    parser.add_argument("--model", default=None, help="a model folder (default: build the tiny model)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="hf: prompts per generate call")
    parser.add_argument("--max-model-len", type=int, default=512, help="vllm")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-p", type=float, default=0.8, help="1.0 disables")
    parser.add_argument("--top-k", type=int, default=20, help="0 disables")
    parser.add_argument("--threads", type=int, default=None, help="hf: torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model
        if model_dir is None:
            from int_exp.config import TinyModelConfig
            from int_exp.models import build_tiny

            model_dir = str(Path(tmp) / "tiny")
            build_tiny(TinyModelConfig(), Path(model_dir))
        rows = [bench(name.strip(), model_dir, args) for name in args.backends.split(",") if name.strip()]

    print(
        f"\n{args.prompts} prompts x {args.samples} samples x {args.max_tokens} max new tokens ({args.dtype}; "
        f"temperature {args.temperature}, top_p {args.top_p}, top_k {args.top_k})"
    )
    print(f"{'backend':<8} {'startup s':>10} {'generate s':>11} {'tokens':>8} {'tok/s':>9}")
    for r in rows:
        print(
            f"{r['backend']:<8} {r['startup_s']:>10.1f} {r['generate_s']:>11.2f} {r['tokens']:>8} {r['tok_per_s']:>9.0f}"
        )


if __name__ == "__main__":  # vLLM spawns processes: keep the engine start behind this guard
    main()
