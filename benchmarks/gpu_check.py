"""The GPU check: the hf backend and a few TRL SFT and GRPO steps at SmolLM2-135M's shape, in bf16.

    bash benchmarks/gpu_check.sh                      # on the GPU machine (installs from .wheels/ first)
    python benchmarks/gpu_check.py --device cpu --shape tiny --tokenizer DIR   # the same code path here

The device machine has torch but no network, so the model is SmolLM2-135M's architecture with
random weights (speed does not depend on the weights; ``--model DIR`` uses real ones) and its
tokenizer comes from ``.wheels/tokenizer`` (saved by ``benchmarks/build_wheels.sh``). Prints one
JSON line per part: sampling tok/s (prefill and total), SFT seconds per step, and GRPO seconds
per step with its sampling through int_exp's decoder and through TRL's model.generate.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

SHAPES = {  # SmolLM2-135M-Instruct's config, and a tiny one for a CPU dry run
    "smollm2": {"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
                "intermediate_size": 1536, "max_position_embeddings": 8192},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
             "intermediate_size": 128, "max_position_embeddings": 2048},
}


def random_model(shape: str, tokenizer_dir: str, out: Path, dtype: str) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **SHAPES[shape])
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(getattr(torch, dtype)).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def sampling(model: Path, device: str, dtype: str, prompts: int, n: int, tokens: int) -> dict:
    from int_exp.backends import make_backend
    from int_exp.backends.base import SamplingParams
    from int_exp.config import BackendConfig

    backend = make_backend(BackendConfig(name="hf", batch_size=prompts, device=device), str(model), dtype=dtype)
    chats = [[{"role": "user", "content": f"Problem {i}: " + "compute 17 + 25 then multiply by 3. " * 20}]
             for i in range(prompts)]
    try:
        backend.generate(chats[:1], SamplingParams(n=1, max_tokens=2))
        timings = {}
        for budget in (1, tokens):
            start = time.perf_counter()
            out = backend.generate(chats, SamplingParams(n=n, max_tokens=budget, temperature=1.0, top_k=0, top_p=1.0))
            timings[budget] = time.perf_counter() - start
        new = sum(len(backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for g in out for t in g)
    finally:
        backend.close()
    return {"part": "sampling", "rows": prompts * n, "max_tokens": tokens, "prefill_s": round(timings[1], 2),
            "total_s": round(timings[tokens], 2), "tok_per_s": round(new / timings[tokens], 1)}


def training(model: Path, out: Path, bf16: bool, steps: int) -> list[dict]:
    from int_exp.config import RLConfig, SFTConfig
    from int_exp.training import correctness_reward, run_grpo, run_sft

    examples = [{"problem": f"What is {i} + {i}?", "context": "", "target": f"{i} + {i} = {2 * i}.", "eos": False}
                for i in range(64)]
    rows = []
    sft = SFTConfig(learning_rate=1e-5, epochs=1, per_device_batch_size=8, max_length=512, bf16=bf16,
                    trainer_kwargs={"max_steps": steps})
    start = time.perf_counter()
    run_sft(examples, str(model), sft, out / "sft")
    rows.append({"part": "sft", "steps": steps, "s_per_step": round((time.perf_counter() - start) / steps, 3)})
    prompts = [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}], "answer": str(2 * i), "source": "math"}
               for i in range(32)]
    for fast in (True, False):  # sampling through int_exp's decoder, then TRL's model.generate
        rl = RLConfig(num_generations=8, per_device_batch_size=16, max_steps=steps, max_completion_length=128,
                      learning_rate=1e-6, bf16=bf16, fast_generation=fast)
        start = time.perf_counter()
        result = run_grpo(prompts, str(model), rl, out / f"grpo-{fast}", reward_fn=correctness_reward)
        rows.append({"part": "grpo", "generation": "int_exp" if fast else "trl", "steps": steps,
                     "s_per_step": round((time.perf_counter() - start) / steps, 3),
                     "train_s_per_step": round(result["runtime"] / steps, 3)})  # without loading and set-up
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--shape", default="smollm2", choices=sorted(SHAPES))
    ap.add_argument("--tokenizer", default=".wheels/tokenizer")
    ap.add_argument("--model", default=None, help="a model folder instead of random weights")
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    import torch

    dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    print(json.dumps({"device": args.device, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                      "torch": torch.__version__, "dtype": dtype}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else random_model(args.shape, args.tokenizer, Path(tmp) / "m", dtype)
        big = args.device.startswith("cuda")
        print(json.dumps(sampling(model, args.device, dtype, 64 if big else 4, 8 if big else 2, 256 if big else 16)),
              flush=True)
        for row in training(model, Path(tmp), bf16=big, steps=args.steps):
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
