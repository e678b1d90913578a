"""pass@k and its uncertainty.

pass@k is the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained
on Code": with ``n`` samples of which ``c`` are correct, pass@k = 1 - C(n - c, k) / C(n, k), the
chance that k samples drawn without replacement from the n include at least one correct one.

Uncertainty (:func:`bootstrap_interval`): a variant's score is a mean over problems (and over
seeds, when a comparison was repeated with ``seed=0,1,2``), so its 95% interval comes from
resampling problems, and seeds, with replacement. A difference between two variants is read on
the same problems and seeds (:func:`paired_interval`): the per-problem differences are resampled,
which removes the problem-to-problem spread both variants share and is far tighter than two
separate intervals.

Seeds that share an upstream draw are not independent: run seeds of one base model
(``model.sandbox.seed=1 seed=0`` and ``... seed=1``) share that model. Given ``groups`` (one label
per seed row), the seeds are resampled in two levels: groups with replacement, then seeds within
each drawn group. A claim then has to hold over the groups (the base models), not over the
repeated seeds of one of them; with few groups the interval is wide, as it should be.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "bootstrap_interval", "mean_pass_at_k", "paired_interval", "pass_at_k", "per_problem_pass_at_k"]


def _as_int(name: str, value) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"pass_at_k: {name} must be an integer, got {value!r}") from None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimate for one problem from ``n`` samples with ``c`` correct.

    Uses the numerically stable product form of the Codex paper,
    ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)``, which equals ``1 - C(n - c, k) / C(n, k)``
    without forming huge binomial coefficients.

    Args:
        n: Number of samples drawn for the problem (>= 0).
        c: Number of those that are correct (0 <= c <= n).
        k: The k of pass@k (1 <= k <= n).

    Returns:
        The estimate, in [0, 1]; exactly 1.0 when fewer than k samples are wrong (n - c < k)
        and exactly 0.0 when none is correct.

    Raises:
        ValueError: If k > n (pass@k needs at least k samples), k < 1, n or c negative, or c > n.

    Examples:
        >>> round(pass_at_k(10, 3, 1), 10)  # pass@1 is the fraction correct
        0.3
        >>> round(pass_at_k(10, 3, 5), 4)  # 1 - C(7, 5) / C(10, 5) = 1 - 21/252
        0.9167
        >>> pass_at_k(10, 8, 5)  # only 2 wrong samples: any 5 include a correct one
        1.0
    """
    n, c, k = _as_int("n", n), _as_int("c", c), _as_int("k", k)
    if n < 0 or c < 0:
        raise ValueError(f"pass_at_k: n and c must be non-negative, got n={n}, c={c}")
    if c > n:
        raise ValueError(f"pass_at_k: c={c} correct samples is more than n={n} samples")
    if k < 1:
        raise ValueError(f"pass_at_k: k must be at least 1, got k={k}")
    if k > n:
        raise ValueError(f"pass_at_k: k={k} is larger than n={n}: pass@k needs at least k samples per problem")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def mean_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> float:
    """Mean of :func:`pass_at_k` over problems.

    Args:
        ns: Samples drawn per problem.
        cs: Correct samples per problem, aligned with ``ns``.
        k: The k of pass@k (at most every ``ns[i]``).

    Returns:
        The average pass@k over the problems.

    Raises:
        ValueError: If ``ns`` and ``cs`` differ in length, are empty, or any problem is invalid
            for :func:`pass_at_k` (e.g. fewer than k samples).

    Examples:
        >>> mean_pass_at_k([4, 4], [4, 0], 1)
        0.5
        >>> round(mean_pass_at_k([10, 10], [3, 0], 5), 4)
        0.4583
    """
    if len(ns) != len(cs):
        raise ValueError(f"mean_pass_at_k: ns has {len(ns)} problems but cs has {len(cs)}")
    if len(ns) == 0:
        raise ValueError("mean_pass_at_k: no problems (ns and cs are empty)")
    return sum(pass_at_k(n, c, k) for n, c in zip(ns, cs)) / len(ns)


def per_problem_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> np.ndarray:
    """:func:`pass_at_k` of every problem, as an array (what the bootstrap resamples).

    >>> per_problem_pass_at_k([4, 4, 4], [0, 1, 4], 2).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    if len(ns) != len(cs):
        raise ValueError(f"per_problem_pass_at_k: ns has {len(ns)} problems but cs has {len(cs)}")
    return np.array([pass_at_k(n, c, k) for n, c in zip(ns, cs)], dtype=float)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (same units as the estimate)."""

    estimate: float
    low: float
    high: float
    level: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly above or below 0 (a difference the data can separate)."""
        return self.low > 0 or self.high < 0

    def scaled(self, factor: float) -> Interval:
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.level)

    def __str__(self) -> str:
        return f"{self.estimate:.1f} [{self.low:.1f}, {self.high:.1f}]"


def _as_matrix(values) -> np.ndarray:
    """Per-problem values as a (seeds, problems) matrix; a 1-d array is one seed."""
    matrix = np.asarray(values, dtype=float)
    matrix = matrix[None, :] if matrix.ndim == 1 else matrix
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"bootstrap: expected per-problem values as (seeds, problems), got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("bootstrap: per-problem values must be finite (a problem missing in one seed?)")
    return matrix


def _grouped_means(per_seed: np.ndarray, groups: Sequence, rng: np.random.Generator) -> np.ndarray:
    """Resample the seeds in two levels, one resample per column of ``per_seed`` (seeds x
    n_boot): groups with replacement, then the seeds within each drawn group with replacement.
    Groups of unequal size are padded to the largest and the padding is masked out of the mean."""
    seeds, n_boot = per_seed.shape
    if len(groups) != seeds:
        raise ValueError(f"bootstrap: {len(groups)} group labels for {seeds} seed rows")
    members = [np.flatnonzero([g == label for g in groups]) for label in dict.fromkeys(groups)]
    sizes = np.array([len(m) for m in members])
    table = np.zeros((len(members), sizes.max()), dtype=int)  # group -> its seed rows, padded
    for i, rows in enumerate(members):
        table[i, : len(rows)] = rows
    picked = rng.integers(0, len(members), size=(n_boot, len(members)))  # (n_boot, groups)
    picked_sizes = sizes[picked][:, :, None]
    within = (rng.random((n_boot, len(members), sizes.max())) * picked_sizes).astype(int)
    rows = table[picked[:, :, None], within]  # (n_boot, groups, largest group)
    keep = np.arange(sizes.max()) < picked_sizes
    values = per_seed[rows, np.arange(n_boot)[:, None, None]]
    return (values * keep).sum(axis=(1, 2)) / keep.sum(axis=(1, 2))


def _resampled_means(matrix: np.ndarray, n_boot: int, rng: np.random.Generator,
                     groups: Sequence | None = None) -> np.ndarray:
    """The mean of ``n_boot`` resamples: problems with replacement (the same draw for every seed,
    since seed s and seed s' evaluate the same problems), then seeds with replacement (in two
    levels when ``groups`` puts some seeds together: :func:`_grouped_means`)."""
    seeds, problems = matrix.shape
    problem_draws = rng.integers(0, problems, size=(n_boot, problems))
    per_seed = matrix[:, problem_draws].mean(axis=2)  # (seeds, n_boot)
    if seeds == 1:
        return per_seed[0]
    if groups is not None and 1 < len(set(groups)) < seeds:
        return _grouped_means(per_seed, groups, rng)
    seed_draws = rng.integers(0, seeds, size=(n_boot, seeds))
    return per_seed[seed_draws, np.arange(n_boot)[:, None]].mean(axis=1)


def bootstrap_interval(values, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                       groups: Sequence | None = None) -> Interval:
    """Mean of per-problem values and its percentile bootstrap interval.

    Args:
        values: per-problem values (pass@k estimates, 0/1 coverage), shape ``(problems,)`` or
            ``(seeds, problems)`` with the same problems in every row.
        n_boot: resamples.
        level: coverage of the interval.
        seed: the resampling seed (the interval is reproducible).
        groups: one label per seed row: seeds that share an upstream draw (a base model), resampled
            in two levels (the module doc). None: the seeds are independent.

    >>> iv = bootstrap_interval([0.0, 1.0] * 50)
    >>> iv.estimate, 0.39 < iv.low < 0.45, 0.55 < iv.high < 0.61
    (0.5, True, True)
    """
    matrix = _as_matrix(values)
    means = _resampled_means(matrix, int(n_boot), np.random.default_rng(seed), groups)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(matrix.mean()), float(low), float(high), level)


def paired_interval(values, reference, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                    groups: Sequence | None = None) -> Interval:
    """``mean(values) - mean(reference)`` with a paired bootstrap interval.

    Both are ``(seeds, problems)`` on the same problems and seeds in the same order (seed s of
    both variants shares its rollouts and interventions), so the per-problem differences are
    resampled together; ``groups`` as in :func:`bootstrap_interval`.

    >>> paired_interval([[0.5, 1.0]], [[0.5, 1.0]])
    Interval(estimate=0.0, low=0.0, high=0.0, level=0.95)
    """
    a, b = _as_matrix(values), _as_matrix(reference)
    if a.shape != b.shape:
        raise ValueError(f"paired_interval: shapes differ ({a.shape} vs {b.shape}): pair the same problems and seeds")
    return bootstrap_interval(a - b, n_boot=n_boot, level=level, seed=seed, groups=groups)
