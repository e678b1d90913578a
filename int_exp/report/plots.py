"""pass@k against k with 95% bands: one panel per evaluation set, one line per variant."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from int_exp.metrics import Interval, bootstrap_interval, per_problem_pass_at_k

Curve = dict[int, Interval]


def pass_at_k_curve(ns: Sequence[Sequence[int]], cs: Sequence[Sequence[int]], n_boot: int = 1000,
                    groups: Sequence[str] | None = None) -> Curve:
    """pass@k for k = 1..n with its bootstrap interval; ``ns``/``cs`` are per seed, then per problem
    (the same problems in every seed); ``groups`` as in :func:`int_exp.metrics.bootstrap_interval`.

    >>> curve = pass_at_k_curve([[4, 4]], [[0, 4]])
    >>> sorted(curve), curve[1].estimate
    ([1, 2, 3, 4], 0.5)
    """
    n = min(min(row) for row in ns)
    return {k: bootstrap_interval([per_problem_pass_at_k(n_row, c_row, k) for n_row, c_row in zip(ns, cs)],
                                  n_boot=n_boot, groups=groups)
            for k in range(1, n + 1)}


def plot_pass_at_k(panels: dict[str, dict[str, Curve]], path: Path) -> None:
    """``panels``: dataset -> variant -> curve, drawn as lines with shaded 95% bands (percent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False)
    for ax, (dataset, curves) in zip(axes[0], panels.items()):
        for label, curve in curves.items():
            ks = sorted(curve)
            line, = ax.plot(ks, [100 * curve[k].estimate for k in ks], marker="o", markersize=3, label=label)
            ax.fill_between(ks, [100 * curve[k].low for k in ks], [100 * curve[k].high for k in ks],
                            color=line.get_color(), alpha=0.15, linewidth=0)
        if max((max(c) for c in curves.values()), default=1) > 2:
            ax.set_xscale("log", base=2)
        ax.set_title(f"{dataset} (bands: 95% bootstrap CI over problems and seeds)", fontsize=9)
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
