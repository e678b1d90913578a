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

import pkgutil
from collections.abc import Sequence

from int_exp.domains.base import BuiltinModel, Domain, SimpleDomain
from int_exp.runtime.plugins import PluginRegistry

__all__ = ["DEFAULT_DOMAIN", "DOMAINS", "BuiltinModel", "Domain", "SimpleDomain", "all_domains", "builtin_models",
           "domain_of", "get_domain", "grade_by_source", "register_domain"]

DEFAULT_DOMAIN = "math"


def _own_modules() -> list[str]:
    return [f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__) if m.ispkg]


DOMAINS: PluginRegistry[Domain] = PluginRegistry(
    "domain", Domain, "DOMAIN", env_var="INT_EXP_DOMAINS", entry_point_group="int_exp.domains",
    own_modules=_own_modules)
register_domain = DOMAINS.register
domain_modules = DOMAINS.modules  # our packages, then entry points, then $INT_EXP_DOMAINS
all_domains = DOMAINS.all
get_domain = DOMAINS.get


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
