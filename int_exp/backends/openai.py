"""OpenAI-compatible chat servers (``vllm serve``, SGLang) as a generation backend.

One ``POST {base_url}/v1/chat/completions`` per prompt with ``n`` samples, sent from a thread pool
of ``max_concurrency`` workers; each request goes to the base URL with the fewest requests in
flight (ties round-robin). Sampling: ``n, temperature, top_p, max_tokens, seed`` plus ``top_k``
(an extra body field both vLLM and SGLang accept). A chat ending with an assistant message is
sent with vLLM's extra fields ``continue_final_message: true, add_generation_prompt: false``:
the server renders it with the model's chat template exactly like the local backends.

Connection errors, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with exponential
backoff (``backoff_s * 2**attempt``, capped, with jitter), each time on the least-loaded URL;
other 4xx answers (a prompt longer than the server's context, a wrong model name) fail at once.
``vllm serve`` clips ``max_tokens`` to its context itself. Only the standard library is used.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from int_exp.backends.base import Chat, SamplingBackend, SamplingParams, continues_final_message, derive_seed
from int_exp.config import BackendConfig

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServerError(RuntimeError):
    """A request failed for good (retries exhausted or a non-retryable answer)."""


def chat_completions_url(base_url: str) -> str:
    """``http://host:8000``, ``http://host:8000/`` and ``http://host:8000/v1`` all work."""
    base = base_url.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


class _Retryable(Exception):
    pass


class OpenAIBackend(SamplingBackend):
    def __init__(
        self,
        model_path: str,
        *,
        base_urls: Sequence[str],
        served_model_name: str | None = BackendConfig.served_model_name,
        api_key_env: str | None = BackendConfig.api_key_env,
        max_concurrency: int = BackendConfig.max_concurrency,
        timeout_s: float = BackendConfig.timeout_s,
        max_retries: int = BackendConfig.max_retries,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        urls = [u for u in (base_urls or []) if u]
        if not urls:
            raise ValueError("backend=openai needs at least one server URL in backend.base_urls")
        self.urls = [chat_completions_url(u) for u in urls]
        self.model = served_model_name or str(model_path)
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.max_concurrency = max(1, int(max_concurrency))
        self.timeout_s = float(timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self._bases = [u.rstrip("/").removesuffix("/v1") for u in urls]
        self._context: int | None | bool = False  # False: not asked yet
        self._inflight = [0] * len(self.urls)
        self._next = 0
        self._lock = threading.Lock()

    # -- server choice -------------------------------------------------------------------------
    def _acquire(self) -> int:
        with self._lock:
            k = len(self.urls)
            least = min(self._inflight)
            # Least loaded; among equals, round-robin from the last pick.
            idx = next(
                (self._next + j) % k for j in range(k) if self._inflight[(self._next + j) % k] == least
            )
            self._inflight[idx] += 1
            self._next = (idx + 1) % k
            return idx

    def _release(self, idx: int) -> None:
        with self._lock:
            self._inflight[idx] -= 1

    def context_limit(self) -> int | None:
        """The servers' ``max_model_len`` from ``/v1/models`` (vLLM and SGLang report it), or None.

        vLLM answers 400 to ``max_tokens > max_model_len`` but clips ``max_tokens`` when only
        prompt + max_tokens overflow, so capping at the context is enough.
        """
        if self._context is False:
            limits = []
            for base in self._bases:
                req = urllib.request.Request(f"{base}/v1/models", headers=self._headers())
                try:
                    with urllib.request.urlopen(req, timeout=min(self.timeout_s, 30.0)) as resp:
                        models = json.loads(resp.read().decode()).get("data") or []
                except (OSError, ValueError):
                    continue
                for m in models:
                    if m.get("id") == self.model and m.get("max_model_len"):
                        limits.append(int(m["max_model_len"]))
            self._context = min(limits) if limits else None
        return self._context  # type: ignore[return-value]

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    # -- one request ---------------------------------------------------------------------------
    def request_body(self, chat: Chat, params: SamplingParams, seed: int) -> dict[str, Any]:
        greedy = params.temperature <= 0
        max_tokens = int(params.max_tokens)
        if self._context:
            max_tokens = min(max_tokens, int(self._context))
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in chat],
            "n": 1 if greedy else params.n,  # vLLM refuses n > 1 with greedy sampling
            "temperature": 0.0 if greedy else float(params.temperature),
            "top_p": 1.0 if greedy or not params.top_p else float(params.top_p),
            "max_tokens": max_tokens,
            "seed": int(seed),
        }
        if not greedy and params.top_k and params.top_k > 0:
            body["top_k"] = int(params.top_k)
        if continues_final_message(chat):
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        return body

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=self._headers(), method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read().decode())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            message = f"HTTP {exc.code} from {url}: {detail}"
            if exc.code in RETRY_STATUS:
                raise _Retryable(message) from exc
            raise ServerError(message) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retryable(f"{type(reason).__name__} from {url}: {reason}") from exc
        except json.JSONDecodeError as exc:
            raise _Retryable(f"invalid JSON from {url}: {exc}") from exc

    def complete(
        self, chat: Chat, params: SamplingParams, seed: int, abort: threading.Event | None = None
    ) -> list[str]:
        """The ``n`` completions of one chat (retried on transient failures)."""
        body = self.request_body(chat, params, seed)
        errors: list[str] = []
        for attempt in range(self.max_retries + 1):
            if abort is not None and abort.is_set():
                raise ServerError("cancelled: another request of this call failed")
            idx = self._acquire()
            try:
                data = self._post(self.urls[idx], body)
            except _Retryable as exc:
                errors.append(str(exc))
                if attempt < self.max_retries:
                    delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                    delay *= 0.5 + random.random() / 2
                    if abort is not None:
                        abort.wait(delay)
                    else:
                        time.sleep(delay)
                continue
            finally:
                self._release(idx)
            choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
            texts = [((c.get("message") or {}).get("content") or "") for c in choices]
            if len(texts) != body["n"]:
                raise ServerError(f"{self.urls[idx]} returned {len(texts)} choices, asked for {body['n']}")
            return texts * params.n if body["n"] == 1 and params.n > 1 else texts
        raise ServerError(
            f"request failed after {self.max_retries + 1} attempt(s) "
            f"({', '.join(sorted(set(self.urls)))}); last error: {errors[-1] if errors else '?'}"
        )

    # -- the backend interface -----------------------------------------------------------------
    def sample(self, chats: list[Chat], params: SamplingParams, desc: str, first_index: int) -> list[list[str]]:
        from tqdm.auto import tqdm

        results: list[list[str] | None] = [None] * len(chats)
        self.context_limit()
        workers = min(self.max_concurrency, len(chats))
        abort = threading.Event()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-backend") as pool:
            futures = {
                pool.submit(self.complete, chat, params, derive_seed(params.seed, first_index + i), abort): i
                for i, chat in enumerate(chats)
            }
            pending = set(futures)
            with tqdm(total=len(chats), desc=desc, unit="prompt", dynamic_ncols=True) as bar:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        if f.exception() is not None:
                            abort.set()
                            for p in pending:
                                p.cancel()
                            raise f.exception()  # type: ignore[misc]
                        results[futures[f]] = f.result()
                    bar.update(len(done))
        return [r if r is not None else [] for r in results]

    def close(self) -> None:
        """Nothing to free: the servers belong to whoever started them."""


def build(opts: dict[str, Any], model_path: str, *, dtype: str, max_context: int | None) -> OpenAIBackend:
    """Backend ``openai`` from the ``backend`` options (complete: :func:`int_exp.backends.engines.options`).
    The engines run in the servers: ``isolate`` and ``data_parallel_size`` do not apply."""
    if int(opts["data_parallel_size"]) > 1 or opts["isolate"]:
        import warnings

        warnings.warn("backend=openai ignores isolate and data_parallel_size: list several servers in "
                      "backend.base_urls instead", stacklevel=3)
    return OpenAIBackend(model_path, base_urls=list(opts["base_urls"] or []), served_model_name=opts["served_model_name"],
                         api_key_env=opts["api_key_env"], max_concurrency=int(opts["max_concurrency"]),
                         timeout_s=float(opts["timeout_s"]), max_retries=int(opts["max_retries"]))


build.remote = True  # a client of servers: make_backend starts no child process for it
