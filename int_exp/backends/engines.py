"""The backend registry: ``backend.name`` -> the function that builds that backend.

A backend is a module with ``build(opts, model_path, *, dtype, max_context)`` returning a
:class:`~int_exp.backends.base.GenerationBackend`. The registry holds import paths, so listing the
names imports no engine: the builtins below, the ``int_exp.backends`` entry-point group
(``name = "module:build"``), and ``$INT_EXP_BACKENDS`` (``name=module:build``, comma separated).
A new backend is one module plus a ``conf/backend/<name>.yaml``. A builder whose engine spans
several GPUs says how many with a ``gpus_per_replica(opts) -> int`` attribute (vllm: its
``tensor_parallel_size``); data parallelism gives every replica that many (:func:`gpus_per_replica`,
one where the builder declares nothing). Every option has its default in
:class:`int_exp.config.BackendConfig` and nowhere else: :func:`options` fills them in, and the
builtin constructors' keyword defaults are read from it.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from int_exp.backends.base import GenerationBackend

BUILTIN = {"hf": "int_exp.backends.hf:build", "vllm": "int_exp.backends.vllm:build",
           "openai": "int_exp.backends.openai:build"}
ENTRY_POINT_GROUP = "int_exp.backends"
ENV_VAR = "INT_EXP_BACKENDS"


def registered() -> dict[str, str]:
    """Every backend name and the import path of its builder (later sources win)."""
    found = dict(BUILTIN)
    found.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    for item in os.environ.get(ENV_VAR, "").split(","):
        if item.strip():
            name, _, path = item.partition("=")
            found[name.strip()] = path.strip()
    return found


def backend_names() -> tuple[str, ...]:
    return tuple(registered())


def builder(name: str) -> Callable[..., GenerationBackend]:
    """The builder of backend ``name``; an unknown name is a ValueError listing the known ones."""
    paths = registered()
    if name not in paths:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(paths)}")
    module, _, attr = paths[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def options(opts: Mapping[str, Any]) -> dict[str, Any]:
    """``opts`` (a ``backend`` section as a dict, maybe partial) over BackendConfig's defaults."""
    from int_exp.config import BackendConfig, plain_dict

    return {**plain_dict(BackendConfig()), **dict(opts)}


def build_in_process(
    opts: Mapping[str, Any], model_path: str, *, dtype: str = "float32", max_context: int | None = None
) -> GenerationBackend:
    """Build the named backend in this process (``make_backend`` and the isolated child call this)."""
    opts = options(opts)
    return builder(opts["name"])(opts, model_path, dtype=dtype, max_context=max_context)


def gpus_per_replica(opts: Mapping[str, Any]) -> int:
    """The GPUs one engine of backend ``opts["name"]`` takes (``opts`` complete: :func:`options`): what
    its builder's ``gpus_per_replica(opts)`` says, else 1. Imports the backend's module, not its engine."""
    declared = getattr(builder(opts["name"]), "gpus_per_replica", None)
    return int(declared(opts)) if declared is not None else 1
