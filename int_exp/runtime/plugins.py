"""Plugins found by name: the one discovery mechanism domains and trainers share.

A :class:`PluginRegistry` holds the items of one kind (a domain, a trainer) by their ``name``. It
finds them once, on first use, in three places: the package's own modules, an entry-point group
(installed plugins) and the modules named in an environment variable (comma separated, for a
plugin that is not installed: ``tests/toy_domain``, ``tests/toy_trainer``). Each module defines
the item under one attribute (``DOMAIN``, ``TRAINER``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

__all__ = ["PluginRegistry"]

T = TypeVar("T")


class PluginRegistry(Generic[T]):
    """Items of one ``kind``, registered by name; discovery runs once, on first lookup."""

    def __init__(self, kind: str, protocol: type, attribute: str, env_var: str, entry_point_group: str,
                 own_modules: Callable[[], list[str]], check: Callable[[Any], None] | None = None) -> None:
        self.kind, self.protocol, self.attribute = kind, protocol, attribute
        self.env_var, self.entry_point_group = env_var, entry_point_group
        self.own_modules, self.check = own_modules, check
        self.items: dict[str, T] = {}
        self.discovered = False

    def register(self, item: T) -> T:
        """Add ``item`` (replacing one of the same name)."""
        if not isinstance(item, self.protocol):
            raise TypeError(f"{item!r} does not implement {self.protocol.__module__}.{self.protocol.__qualname__}")
        if self.check is not None:
            self.check(item)
        self.items[item.name] = item  # type: ignore[attr-defined]
        return item

    def modules(self) -> list[str]:
        """Where the items come from: our modules, then entry points, then the environment variable."""
        plugins = [ep.value for ep in entry_points(group=self.entry_point_group)]
        extra = [name.strip() for name in os.environ.get(self.env_var, "").split(",") if name.strip()]
        return self.own_modules() + plugins + extra

    def discover(self) -> None:
        if self.discovered:
            return
        self.discovered = True
        for module_name in self.modules():
            module = importlib.import_module(module_name)
            if not hasattr(module, self.attribute):
                raise ImportError(f"{self.kind} module {module_name!r} defines no {self.attribute}")
            self.register(getattr(module, self.attribute))

    def all(self) -> list[T]:
        self.discover()
        return list(self.items.values())

    def get(self, name: str) -> T:
        self.discover()
        if name not in self.items:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {sorted(self.items)} (a plugin module is "
                           f"named in ${self.env_var} or the {self.entry_point_group!r} entry-point group)")
        return self.items[name]
