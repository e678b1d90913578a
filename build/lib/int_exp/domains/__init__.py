"""The domain registry: the only door from generic code to a reasoning domain.

Domains are found, once, in three places: the packages under ``int_exp/domains/`` (each defines
``DOMAIN``), the ``int_exp.domains`` entry-point group of installed packages, and the modules
named in ``$INT_EXP_DOMAINS`` (comma separated). A new domain is one package with a ``DOMAIN``
and one data YAML under ``conf/data/`` (see ``tests/test_domains.py``, which adds a toy domain
without touching this package).

A problem's domain is the first domain that owns its ``source`` (``gsm8k``, ``arith``, ...);
other sources (local files, ``hf:`` sets) belong to :data:`DEFAULT_DOMAIN` (math).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Sequence
from importlib.metadata import entry_points

from int_exp.domains.base import BuiltinModel, Domain, SimpleDomain

__all__ = ["DEFAULT_DOMAIN", "BuiltinModel", "Domain", "SimpleDomain", "all_domains", "builtin_models",
           "domain_of", "get_domain", "grade_by_source", "register_domain"]

DEFAULT_DOMAIN = "math"
ENV_VAR = "INT_EXP_DOMAINS"
ENTRY_POINT_GROUP = "int_exp.domains"

_REGISTRY: dict[str, Domain] = {}
_DISCOVERED = False


def register_domain(domain: Domain) -> Domain:
    """Add ``domain`` (replacing one of the same name)."""
    if not isinstance(domain, Domain):
        raise TypeError(f"{domain!r} does not implement int_exp.domains.base.Domain")
    _REGISTRY[domain.name] = domain
    return domain


def domain_modules() -> list[str]:
    """Where domains come from: our packages, then entry points, then ``$INT_EXP_DOMAINS``."""
    ours = [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.ispkg]
    plugins = [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    extra = [name.strip() for name in os.environ.get(ENV_VAR, "").split(",") if name.strip()]
    return ours + plugins + extra


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for module_name in domain_modules():
        module = importlib.import_module(module_name)
        if not hasattr(module, "DOMAIN"):
            raise ImportError(f"domain module {module_name!r} defines no DOMAIN")
        register_domain(module.DOMAIN)


def all_domains() -> list[Domain]:
    _discover()
    return list(_REGISTRY.values())


def get_domain(name: str) -> Domain:
    _discover()
    if name not in _REGISTRY:
        raise KeyError(f"unknown domain {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def domain_of(source: str) -> Domain:
    """The domain whose problems ``source`` names (math for files and hub sets)."""
    for domain in all_domains():
        if domain.owns(str(source)):
            return domain
    return get_domain(DEFAULT_DOMAIN)


def builtin_models() -> dict[str, BuiltinModel]:
    """Every domain's builtin models, by name (``builtin:<name>``)."""
    return {name: model for domain in all_domains() for name, model in domain.builtin_models.items()}


def grade_by_source(outputs: Sequence[str], golds: Sequence[str], sources: Sequence[str], *,
                    progress: bool = False) -> list[bool]:
    """Grade each output with the grader of its problem's domain (one batch per domain)."""
    verdicts: list[bool] = [False] * len(outputs)
    groups: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        groups.setdefault(domain_of(source).name, []).append(i)
    for name, indices in groups.items():
        graded = get_domain(name).grade_many([outputs[i] for i in indices], [golds[i] for i in indices],
                                             progress=progress)
        for i, verdict in zip(indices, graded):
            verdicts[i] = bool(verdict)
    return verdicts
