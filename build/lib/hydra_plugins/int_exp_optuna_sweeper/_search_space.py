"""Hydra override syntax -> Optuna distributions (the table in this package's docstring)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    """A ``params`` entry or sweep override that cannot become an Optuna distribution."""


@dataclass
class SearchSpace:
    # Optuna parameter name (the override's key element, e.g. "sft.lr", "+x", "model") -> distribution.
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    # Key element -> the override string passed unchanged to every trial (e.g. "data.limit=8").
    fixed: dict[str, str] = field(default_factory=dict)


def params_to_overrides(params: Mapping[str, Any] | None) -> list[str]:
    """``hydra.sweeper.params`` ({key: "interval(0, 1)" | 3 | [1, 2] ...}) as override strings."""
    if not params:
        return []
    if isinstance(params, DictConfig):
        params = OmegaConf.to_container(params, resolve=True)
    out = []
    for key, value in params.items():
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value, resolve=True)
        text = value if isinstance(value, str) else Override._get_value_element_as_str(value)
        out.append(f"{key}={text}")
    return out


def format_value(value: Any) -> str:
    """A sampled parameter value as the right-hand side of a Hydra override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; Hydra parses 1e-05, inf, nan
    # Categorical str choices are already in override syntax (Transformer.encode kept quotes).
    return str(value)


def _encode_choices(values: Sequence[Any]) -> list[Any]:
    choices = [Transformer.encode(v) for v in values]
    for choice in choices:
        assert isinstance(choice, (str, int, float, bool)), f"unexpected choice {choice!r}"
    return choices


def _choices(override: Override) -> list[Any]:
    value = override.value()
    # Ignore shuffle(): order means nothing to Optuna, and a stable order keeps the
    # CategoricalDistribution identical across resumed runs.
    if isinstance(value, ChoiceSweep) and value.shuffle:
        return _encode_choices(value.list)
    if isinstance(value, RangeSweep) and value.shuffle:
        return _encode_choices(list(value.range()))
    return _encode_choices(list(override.sweep_iterator(transformer=Transformer.identity)))


def _is_float(*values: Any) -> bool:
    return any(isinstance(v, float) for v in values)


def distribution_from_override(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of a sweep override; None for a plain (fixed) override."""
    if not override.is_sweep_override():
        return None
    key = override.get_key_element()
    value = override.value()
    try:
        if override.is_choice_sweep():
            return CategoricalDistribution(_choices(override))

        if override.is_range_sweep():
            assert isinstance(value, RangeSweep)
            if value.shuffle:
                return CategoricalDistribution(_choices(override))
            start, stop, step = value.start, value.stop, value.step
            assert start is not None and stop is not None
            if "log" in value.tags:
                if _is_float(start, stop, step) or step != 1:
                    raise SearchSpaceError(
                        f"'{key}': tag(log, range(...)) needs integer bounds and step 1 (Optuna has "
                        "no stepped log distribution); use tag(log, interval(...)) for floats"
                    )
                return IntDistribution(int(start), int(stop), log=True)
            # As in hydra-optuna-sweeper, `stop` is Optuna's (inclusive) `high`.
            if _is_float(start, stop, step):
                return FloatDistribution(float(start), float(stop), step=float(step))
            return IntDistribution(int(start), int(stop), step=int(step))

        if override.is_interval_sweep():
            assert isinstance(value, IntervalSweep)
            start, end = value.start, value.end
            assert start is not None and end is not None
            log = "log" in value.tags
            # Hydra makes interval() bounds floats; int(interval(...)) makes them ints.
            if isinstance(start, int) and isinstance(end, int):
                return IntDistribution(start, end, log=log)
            return FloatDistribution(float(start), float(end), log=log)
    except SearchSpaceError:
        raise
    except Exception as exc:  # Optuna's own checks (low > high, log with low <= 0, ...)
        raise SearchSpaceError(f"'{override.input_line}': {exc}") from exc

    raise SearchSpaceError(f"'{override.input_line}' is not supported by the Optuna sweeper")


def fixed_override(override: Override) -> str:
    """The override string a fixed (non-sweep) override is passed on as."""
    key = override.get_key_element()
    if override.is_delete() and override.value() is None:
        return key
    return f"{key}={override.get_value_element_as_str()}"


def parse_search_space(overrides: Sequence[str], config_loader: Any = None) -> SearchSpace:
    """Split overrides into Optuna distributions and fixed overrides; a later key wins.

    ``config_loader`` (Hydra's) is needed only for ``glob(...)`` over config group options.
    """
    parser = OverridesParser.create(config_loader=config_loader)
    space = SearchSpace()
    for override in parser.parse_overrides(list(overrides)):
        key = override.get_key_element()
        space.distributions.pop(key, None)
        space.fixed.pop(key, None)
        distribution = distribution_from_override(override)
        if distribution is None:
            space.fixed[key] = fixed_override(override)
        else:
            space.distributions[key] = distribution
    return space


def grid_from_distributions(distributions: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """The GridSampler search space: every value of each (discrete) distribution, bounds included."""
    grid: dict[str, list[Any]] = {}
    for name, dist in distributions.items():
        if isinstance(dist, CategoricalDistribution):
            grid[name] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[name] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            n = math.floor((dist.high - dist.low) / dist.step + 1e-9)
            grid[name] = [round(dist.low + i * dist.step, 12) for i in range(n + 1)]
        else:
            raise SearchSpaceError(
                f"GridSampler needs discrete parameters (choice or range); '{name}' is {dist}"
            )
    return grid

