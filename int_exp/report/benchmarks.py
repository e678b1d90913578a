"""The paper's table: one row per variant, one column per benchmark of an evaluation set and
their average, pass@k in % with 95% bootstrap intervals.

It is built where the eval stage recorded each problem's benchmark (the ``benchmark`` column of
``per_problem.csv``: the paper's test set maps its ``source`` column to it). The average is the
unweighted mean over benchmarks, as the paper reports it, not the mean over problems; its interval
resamples problems with each weighted by (problems / (benchmarks x problems of its benchmark)), so
that every benchmark counts equally in every resample's mean as it does in the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from int_exp.metrics import bootstrap_interval
from int_exp.report.runs import JobRun
from int_exp.report.tables import by_seed, counts, pass_matrix, put, readable, row_order

GROUP_COLUMN = "benchmark"
AVERAGE = "average"


@dataclass
class BenchmarkTable:
    dataset: str
    k: int
    numbers: pd.DataFrame  # one row per label: each benchmark and the average, with interval ends
    text: pd.DataFrame  # the same as "52.1 [48.0, 56.2]"


def benchmarks_of(runs: list[JobRun], dataset: str) -> dict[str, str]:
    """problem_id -> benchmark, from the runs' per-problem counts of ``dataset`` (empty: none)."""
    found: dict[str, str] = {}
    for run in runs:
        table = run.per_problem
        if table is None or GROUP_COLUMN not in table:
            continue
        rows = table[(table["dataset"] == dataset) & table[GROUP_COLUMN].notna()]
        found.update(zip(rows["problem_id"].astype(str), rows[GROUP_COLUMN].astype(str)))
    return found


def grouped_datasets(runs: list[JobRun]) -> list[str]:
    names = {d for run in runs if run.per_problem is not None and GROUP_COLUMN in run.per_problem
             for d in run.per_problem["dataset"].unique()}
    return sorted(d for d in names if benchmarks_of(runs, d))


def average_weights(groups: np.ndarray) -> np.ndarray:
    """Per-problem weights whose plain mean is the unweighted mean over groups.

    >>> average_weights(np.array(["a", "a", "a", "b"])).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    names, index, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    return len(groups) / (len(names) * sizes[index])


def label_row(seeds: dict[str, JobRun], dataset: str, k: int, benchmark: dict[str, str], n_boot: int) -> dict:
    row: dict = {"seeds": len(seeds)}
    own = counts(list(seeds.values()), dataset)
    if own is None:
        return row
    ns, cs, problems = own
    usable = [i for i, p in enumerate(problems) if str(p) in benchmark and min(n[i] for n in ns) >= k]
    if not usable:
        return row
    values = pass_matrix([[n[i] for i in usable] for n in ns], [[c[i] for i in usable] for c in cs], k)
    groups = np.array([benchmark[str(problems[i])] for i in usable])
    for name in sorted(set(groups)):
        put(row, name, bootstrap_interval(values[:, groups == name], n_boot))
    put(row, AVERAGE, bootstrap_interval(values * average_weights(groups), n_boot))
    return row


def benchmark_tables(runs: list[JobRun], ks: dict[str, list[int]], n_boot: int = 2000) -> list[BenchmarkTable]:
    """The paper-shaped table of each grouped evaluation set and each k of ``ks[dataset]``."""
    rows = by_seed(runs)
    tables = []
    for dataset in grouped_datasets(runs):
        benchmark = benchmarks_of(runs, dataset)
        columns = ["seeds"] + [f"{name}{end}" for name in [*sorted(set(benchmark.values())), AVERAGE]
                               for end in ("", " low", " high")]
        for k in ks.get(dataset, []):
            found = {label: label_row(rows[label], dataset, k, benchmark, n_boot) for label in row_order(rows)}
            numbers = pd.DataFrame.from_dict(found, orient="index").reindex(columns=columns)
            tables.append(BenchmarkTable(dataset, k, numbers, readable(numbers)))
    return tables
