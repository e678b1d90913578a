"""Build a named backend in this process (``make_backend`` and the isolated child call this)."""

from __future__ import annotations

from typing import Any

from int_exp.backends.base import GenerationBackend

BACKEND_NAMES = ("hf", "vllm", "openai")


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
            batch_tokens=opts.get("batch_tokens"),
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
