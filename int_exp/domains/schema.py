"""The root config schema: the generic sections of :mod:`int_exp.config` plus every domain's and
every trainer's.

A domain lists its sections in ``Domain.settings`` by path: ``data.<key>`` adds ``<key>`` to
``data`` and, as an optional per-dataset override, to each dataset spec (``data.eval[i].<key>``);
``model.<key>`` adds a builtin model's settings to ``model``. A trainer adds the fields of its
settings dataclass to its section (``sft`` or ``rl``: :func:`int_exp.training.base.section_fields`).
The assembled dataclasses are ordinary structured configs, so a misspelt domain or trainer key
fails at composition like any other.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import field
from types import SimpleNamespace
from typing import Any

from int_exp import config
from int_exp.domains import all_domains
from int_exp.training import all_trainers
from int_exp.training.base import section_fields


def _sections(prefix: str) -> dict[str, type]:
    found: dict[str, type] = {}
    for domain in all_domains():
        for path, schema in domain.settings.items():
            head, _, key = path.partition(".")
            if head == prefix:
                found[key] = schema
    return found


def _extend(base: type, fields: list[tuple[str, Any, Any]]) -> type:
    built = dataclasses.make_dataclass(base.__name__, fields, bases=(base,))
    # Importable by reference (module __getattr__ below), so the config store pickles into the
    # worker processes of Hydra's joblib and submitit launchers instead of being copied by value.
    built.__module__, built.__qualname__ = __name__, BUILT + base.__name__
    return built


BUILT = "Built"


def __getattr__(name: str) -> type:
    """``BuiltConfig`` etc.: the assembled schemas, for unpickling in a launcher's worker."""
    if name.startswith(BUILT) and hasattr(schemas(), name[len(BUILT):]):
        return getattr(schemas(), name[len(BUILT):])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def schemas() -> SimpleNamespace:
    """``DatasetSpec``, ``DataConfig``, ``ModelConfig`` and ``Config`` with the domains' sections;
    ``SFTConfig`` and ``RLConfig`` with the trainers' settings."""
    data_sections, model_sections = _sections("data"), _sections("model")
    spec = _extend(config.DatasetSpec, [(k, s | None, field(default=None)) for k, s in data_sections.items()])
    data = _extend(config.DataConfig, [("train", spec, field(default_factory=spec)),
                                       ("eval", list[spec], field(default_factory=list))]
                   + [(k, s, field(default_factory=s)) for k, s in data_sections.items()])
    model = _extend(config.ModelConfig, [(k, s, field(default_factory=s)) for k, s in model_sections.items()])
    trainers = all_trainers()
    sft = _extend(config.SFTConfig, section_fields("sft", config.SFTConfig, trainers))
    rl = _extend(config.RLConfig, section_fields("rl", config.RLConfig, trainers))
    root = _extend(config.Config, [("data", data, field(default_factory=data)),
                                   ("model", model, field(default_factory=model)),
                                   ("sft", sft, field(default_factory=sft)),
                                   ("rl", rl, field(default_factory=rl))])
    return SimpleNamespace(DatasetSpec=spec, DataConfig=data, ModelConfig=model, SFTConfig=sft, RLConfig=rl,
                           Config=root)


def register_configs() -> None:
    """Store the root schema; conf/config.yaml lists it first in its defaults."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=schemas().Config)
