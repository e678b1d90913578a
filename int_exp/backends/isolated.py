"""Run a backend in a spawned child process, and data parallelism over several such children.

vLLM does not give GPU memory back while its process lives, and a training stage that follows
generation in the same job needs that memory. :class:`IsolatedBackend` builds the backend in a
child started with the ``spawn`` method, keeps the engine alive there across ``generate`` calls,
and ends the child in ``close()``. Any backend name works (the hf backend makes a cheap test).

:class:`DataParallelBackend` starts ``data_parallel_size`` isolated replicas, each with its own
``CUDA_VISIBLE_DEVICES`` share (as many GPUs each as the backend's builder declares:
:func:`int_exp.backends.engines.gpus_per_replica`, ``tensor_parallel_size`` for vllm), and
splits every ``generate`` call's prompts between them in contiguous shards. vLLM 0.32's ``LLM``
refuses ``data_parallel_size > 1`` in one process, so this is how offline data parallelism runs.

The parent never imports torch or vllm, except ``torch.cuda.device_count()`` to share out GPUs
when ``CUDA_VISIBLE_DEVICES`` is unset.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import threading
import traceback
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from int_exp.backends.base import Chat, SamplingParams

_ENV_LOCK = threading.Lock()


class RemoteBackendError(RuntimeError):
    """A backend call failed in the child process; the message holds the child's traceback."""


def _child_main(conn: Any, opts: dict, model_path: str, dtype: str, max_context: int | None) -> None:
    """The child's loop: build the backend once, then serve generate calls until told to close."""
    backend = None
    try:
        from int_exp.backends.engines import build_in_process

        backend = build_in_process(opts, model_path, dtype=dtype, max_context=max_context)
        conn.send(("ok", None))
        while True:
            try:
                msg = conn.recv()
            except EOFError:  # the parent went away
                break
            if msg[0] == "close":
                break
            _, args, kwargs = msg
            try:
                conn.send(("ok", backend.generate(*args, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    except BaseException as exc:  # noqa: BLE001 - construction failed
        with contextlib.suppress(Exception):  # the parent is gone: nobody to tell
            conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    finally:
        if backend is not None:
            try:
                backend.close()
            except Exception:  # noqa: BLE001
                traceback.print_exc()
        with contextlib.suppress(Exception):
            conn.send(("closed", None))
        conn.close()


def _stop(proc: Any, conn: Any, timeout: float) -> None:
    """End the child: ask politely, then terminate, then kill."""
    try:
        if proc.is_alive():
            try:
                conn.send(("close",))
                # Wait for the child to free its engine (it answers "closed" just before exiting).
                if conn.poll(timeout):
                    conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                pass
            proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    finally:
        try:
            conn.close()
        except OSError:
            pass


class IsolatedBackend:
    """A backend living in a spawned child process (the engine survives between calls)."""

    def __init__(
        self,
        cfg: Any,
        model_path: str,
        *,
        dtype: str = "float32",
        max_context: int | None = None,
        env: dict[str, str] | None = None,
        start: bool = True,
        close_timeout_s: float = 120.0,
    ) -> None:
        from int_exp.backends.engines import options
        from int_exp.config import plain_dict

        opts = options(plain_dict(cfg))
        opts["isolate"] = False
        opts["data_parallel_size"] = 1
        self.name = f"{opts['name']} (isolated)"
        self.close_timeout_s = close_timeout_s
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        # Not a daemon: a daemonic process may not start children, and vLLM starts its engine core.
        self._proc = ctx.Process(
            target=_child_main,
            args=(child_conn, opts, str(model_path), dtype, max_context),
            name=f"int-exp-backend-{opts['name']}",
            daemon=False,
        )
        # The child inherits os.environ as it is at start(): set the extra variables (e.g.
        # CUDA_VISIBLE_DEVICES) around start, so they hold before anything in the child runs.
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in (env or {})}
            os.environ.update(env or {})
            try:
                self._proc.start()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        child_conn.close()
        self._finalizer = weakref.finalize(self, _stop, self._proc, self._conn, close_timeout_s)
        self._lock = threading.Lock()
        self._ready = False
        if start:
            self.wait_ready()

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def wait_ready(self) -> None:
        """Block until the child has built its backend (raises if that failed)."""
        if not self._ready:
            with self._lock:
                self._reply("start")
            self._ready = True

    def _reply(self, what: str) -> Any:
        while not self._conn.poll(0.5):
            if not self._proc.is_alive():
                raise RemoteBackendError(
                    f"{self.name} backend child process (pid {self._proc.pid}) died with exit code "
                    f"{self._proc.exitcode} during {what}"
                )
        try:
            msg = self._conn.recv()
        except EOFError as exc:
            raise RemoteBackendError(
                f"{self.name} backend child process closed its pipe during {what}"
            ) from exc
        if msg[0] == "ok":
            return msg[1]
        if msg[0] == "error":
            raise RemoteBackendError(
                f"{self.name} backend {what} failed in the child process: {msg[1]}\n"
                f"--- child traceback ---\n{msg[2]}"
            )
        raise RemoteBackendError(f"{self.name} backend child process ended during {what}")

    def generate(
        self, chats: Sequence[Chat], params: SamplingParams, desc: str = "generate", **kwargs: Any
    ) -> list[list[str]]:
        if not self._finalizer.alive:
            raise RuntimeError(f"{self.name} backend is closed")
        self.wait_ready()
        with self._lock:
            self._conn.send(("generate", ([list(map(dict, c)) for c in chats], params, desc), kwargs))
            return self._reply("generate")

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> IsolatedBackend:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _visible_gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001
        return []


class DataParallelBackend:
    """``data_parallel_size`` isolated replicas; each call's prompts are split between them.

    vllm replicas derive each prompt's seed from its index in the whole call, so their outputs do
    not depend on the number of replicas; hf replicas seed per batch, so theirs do.
    """

    def __init__(
        self, cfg: Any, model_path: str, *, dtype: str = "float32", max_context: int | None = None
    ) -> None:
        from int_exp.backends.engines import gpus_per_replica, options
        from int_exp.config import plain_dict

        opts = options(plain_dict(cfg))
        self.size = int(opts["data_parallel_size"])
        per_replica = gpus_per_replica(opts)
        gpus = _visible_gpus()
        envs: list[dict[str, str]] = []
        if gpus:
            need = self.size * per_replica
            if len(gpus) < need:
                raise ValueError(
                    f"data_parallel_size={self.size} x {per_replica} GPU(s) per replica needs {need} GPUs, "
                    f"{len(gpus)} visible ({','.join(gpus)})"
                )
            envs = [
                {"CUDA_VISIBLE_DEVICES": ",".join(gpus[r * per_replica : (r + 1) * per_replica])}
                for r in range(self.size)
            ]
        else:  # CPU: share the cores out instead of oversubscribing them
            threads = str(max(1, (os.cpu_count() or 1) // self.size))
            envs = [{"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads)} for _ in range(self.size)]
        # Start every replica first, then wait: the engines load in parallel.
        self.replicas: list[IsolatedBackend] = []
        try:
            for env in envs:
                self.replicas.append(
                    IsolatedBackend(
                        opts, model_path, dtype=dtype, max_context=max_context, env=env, start=False
                    )
                )
            for replica in self.replicas:
                replica.wait_ready()
        except BaseException:
            self.close()
            raise

    def generate(
        self, chats: Sequence[Chat], params: SamplingParams, desc: str = "generate", *, first_index: int = 0
    ) -> list[list[str]]:
        chats = list(chats)
        if not chats:
            return []
        per = -(-len(chats) // self.size)
        shards = [(s, chats[s : s + per]) for s in range(0, len(chats), per)]
        with ThreadPoolExecutor(max_workers=len(shards)) as pool:
            futures = [
                pool.submit(rep.generate, shard, params, f"{desc} [dp {r}]", first_index=first_index + start)
                for r, (rep, (start, shard)) in enumerate(zip(self.replicas, shards))
            ]
            return [texts for f in futures for texts in f.result()]

    def close(self) -> None:
        replicas, self.replicas = getattr(self, "replicas", []), []
        # Ask all to stop, then wait for each (they free their engines in parallel).
        for replica in replicas:
            try:
                if replica._proc.is_alive():
                    replica._conn.send(("close",))
            except (OSError, BrokenPipeError):
                pass
        for replica in replicas:
            replica.close()
