"""What a builtin model is: ``model.name_or_path=builtin:<name>``, built or converted once by the
``model`` stage. The generic builtins are in :mod:`int_exp.models`; a domain lists its own in
``Domain.builtin_models`` (the arith domain's ``sandbox``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BuiltinModel:
    """``model.name_or_path=builtin:<name>``: a model built or converted once by the ``model``
    stage. ``reads`` lists the config keys its weights depend on (they enter the cache key)."""

    name: str
    reads: Callable[[Any], list[str]]
    build: Callable[[Any, Path], None]  # (the job's config, output folder)
    description: str = ""
    # The config key of the seed its build draws from (``model.sandbox.seed``), or None: a
    # replicate axis like the run's ``seed``, which the report pools and pairs rather than
    # splitting rows or comparison groups by it.
    seed_key: str | None = None
