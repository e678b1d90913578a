"""pass@k: the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

With ``n`` samples of which ``c`` are correct, pass@k = 1 - C(n - c, k) / C(n, k): the chance that
k samples drawn without replacement from the n include at least one correct one.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

__all__ = ["mean_pass_at_k", "pass_at_k"]


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
