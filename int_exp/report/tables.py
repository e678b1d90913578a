"""The comparison: one row per variant, pooled over seeds, with 95% bootstrap intervals.

For each evaluation set and k: pass@k with its interval over problems (and seeds), coverage (the
share of problems with at least one correct sample), the paired difference against each reference
variant (``rl_only`` and ``base`` by default) on the problems and seeds both ran, marked ``*`` when
its interval excludes 0, and the spread of pass@k across seeds. Then the paper's diagnostics, the
mean over seeds of the job runs' metrics. Percentages are in %, differences in percentage points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from int_exp.metrics import Interval, bootstrap_interval, paired_interval, per_problem_pass_at_k
from int_exp.report.plots import Curve, pass_at_k_curve
from int_exp.report.runs import PASS_AT, JobRun

VARIANT_ORDER = ["base", "rl_only", "hint_rl", "sft_ref", "sft_reflect", "int_no_prefix", "int_with_suffix",
                 "int_no_filter", "int", "int_published"]
REFERENCES = ("rl_only", "base")
# (job-run metric, column, scale): the paper's diagnostics, averaged over a row's seeds.
DIAGNOSTICS = [
    ("sft/examples", "SFT rows", 1),
    ("sft/nll", "SFT NLL under base (nats/token)", 1),
    ("sft/entropy", "SFT entropy under base (nats/token)", 1),
    ("rl/mean_reward", "RL reward (mean)", 1),
    ("rl/mean_frac_reward_zero_std", "RL zero-advantage groups %", 100),
    ("intervention/rollout_reward", "rollout reward on patched problems %", 100),
    ("intervention/continuation_reward", "continuation reward after intervention %", 100),
    ("intervention/effectiveness", "intervention effectiveness (x)", 1),
    ("intervention/problems", "patched problems", 1),
    ("intervention/solved_by_rollouts", "patched problems solved by rollouts", 1),
    ("intervention/solved_by_continuations", "patched problems solved after intervention", 1),
    ("proposer/parsed", "proposals parsed %", 100),
    ("proposer/right", "proposals right (oracle's step and content) %", 100),
    ("proposer/right_kept_by_filter", "right among kept by the filter %", 100),
    ("proposer/right_filtered_out_by_filter", "right among filtered out %", 100),
]


@dataclass
class Comparison:
    group: str
    model: str
    eval_data: str
    numbers: pd.DataFrame  # one row per label; estimates and interval ends as numbers
    text: pd.DataFrame  # the same, formatted for reading ("52.1 [48.0, 56.2]")
    curves: dict[str, dict[str, Curve]] = field(default_factory=dict)  # dataset -> label -> curve
    seeds: dict[str, list[str]] = field(default_factory=dict)


def row_order(labels) -> list[str]:
    rank = {name: i for i, name in enumerate(VARIANT_ORDER)}
    return sorted(labels, key=lambda label: (rank.get(label.split(" [")[0], len(rank)), label))


def datasets_and_ks(runs: list[JobRun]) -> dict[str, list[int]]:
    found: dict[str, set[int]] = {}
    for run in runs:
        for key in run.metrics:
            if match := PASS_AT.match(key):
                found.setdefault(match["dataset"], set()).add(int(match["k"]))
    return {dataset: sorted(ks) for dataset, ks in sorted(found.items())}


def counts(runs: list[JobRun], dataset: str):
    """``(ns, cs, problems)``: seeds x problems matrices of one dataset on the problems every run
    has (sorted ids), or None when a run has no per-problem counts."""
    tables = []
    for run in runs:
        if run.per_problem is None:
            return None
        table = run.per_problem[run.per_problem["dataset"] == dataset].set_index("problem_id")
        tables.append(table)
    common = sorted(set.intersection(*(set(t.index) for t in tables)))
    if not common:
        return None
    return ([t.loc[common, "n"].astype(int).tolist() for t in tables],
            [t.loc[common, "correct"].astype(int).tolist() for t in tables], common)


def pass_matrix(ns, cs, k: int) -> np.ndarray:
    return np.array([per_problem_pass_at_k(n_row, c_row, k) for n_row, c_row in zip(ns, cs)])


def put(row: dict, name: str, interval: Interval | None, fallback: float = math.nan) -> None:
    """Three columns: ``name``, ``name low``, ``name high`` (in %, or percentage points)."""
    if interval is None:
        row[name], row[f"{name} low"], row[f"{name} high"] = fallback, math.nan, math.nan
    else:
        iv = interval.scaled(100)
        row[name], row[f"{name} low"], row[f"{name} high"] = iv.estimate, iv.low, iv.high


def by_seed(runs: list[JobRun]) -> dict[str, dict[str, JobRun]]:
    """label -> seed -> run (runs are newest first and already one per label and seed)."""
    rows: dict[str, dict[str, JobRun]] = {}
    for run in runs:
        rows.setdefault(run.label, {})[run.seed] = run
    return {label: dict(sorted(seeds.items())) for label, seeds in rows.items()}


def base_draw(replicate: str) -> str:
    """What a replicate shares with others: its seeds but the run seed (``model.sandbox.seed=1``
    of ``model.sandbox.seed=1 seed=0``; empty for a plain ``seed=0``). The report's intervals
    resample these groups, then the run seeds within them (:mod:`int_exp.metrics`), so a claim
    pooled over base models has to hold over the base models.

    >>> base_draw("model.sandbox.seed=1 seed=0"), base_draw("seed=2")
    ('model.sandbox.seed=1', '')
    """
    return " ".join(part for part in replicate.split() if not part.startswith("seed="))


def compare(runs: list[JobRun], references=REFERENCES, n_boot: int = 2000) -> Comparison:
    """The comparison of one comparison group's job runs."""
    rows = by_seed(runs)
    targets = datasets_and_ks(runs)
    numbers, curves = {}, {dataset: {} for dataset in targets}
    for label in row_order(rows):
        seeds = rows[label]
        groups = [base_draw(seed) for seed in seeds]
        row = {"seeds": len(seeds)}
        for dataset, ks in targets.items():
            own = counts(list(seeds.values()), dataset)
            for k in ks:
                values = [run.metrics.get(f"{dataset}/pass_at_{k}", math.nan) for run in seeds.values()]
                interval = bootstrap_interval(pass_matrix(own[0], own[1], k), n_boot, groups=groups) if own else None
                put(row, f"{dataset} pass@{k} %", interval, 100 * float(np.nanmean(values)))
                alone = [run.metrics[f"sft_eval/{dataset}/pass_at_{k}"] for run in seeds.values()
                         if f"sft_eval/{dataset}/pass_at_{k}" in run.metrics]
                if alone:  # the sft_eval stage: the SFT checkpoint before RL
                    row[f"{dataset} pass@{k} after SFT alone %"] = 100 * float(np.mean(alone))
                if len(values) > 1:
                    row[f"{dataset} pass@{k} sd over seeds"] = 100 * float(np.nanstd(values, ddof=1))
                for reference in references:
                    twin = reference_row(label, seeds, reference)
                    if twin != label and twin in rows:
                        put(row, f"{dataset} pass@{k} vs {reference} (pp)",
                            paired(seeds, rows[twin], dataset, k, n_boot))
            if own:
                put(row, f"{dataset} coverage %",
                    bootstrap_interval(np.array(own[1]) > 0, n_boot, groups=groups))
                curves[dataset][label] = pass_at_k_curve(own[0], own[1], n_boot=min(n_boot, 1000), groups=groups)
        for metric, column, scale in DIAGNOSTICS:
            values = [run.metrics[metric] for run in seeds.values() if metric in run.metrics]
            if values:
                row[column] = scale * float(np.mean(values))
        numbers[label] = row
    table = pd.DataFrame.from_dict(numbers, orient="index")
    table = table[sorted(table.columns, key=lambda c: column_rank(c, targets, references))]
    first = runs[0]
    return Comparison(first.group, first.model, first.eval_data, table, readable(table), curves,
                      {label: list(seeds) for label, seeds in rows.items()})


def reference_row(label: str, seeds: dict[str, JobRun], reference: str) -> str:
    """The row of variant ``reference`` with the same other overrides as ``label``.

    >>> reference_row("int [rollouts.k=8]", {"0": JobRun("r", "int [rollouts.k=8]", "int", "0", "g", "m", "d")}, "base")
    'base [rollouts.k=8]'
    """
    variant = next(iter(seeds.values())).variant
    return reference + label[len(variant):]


def column_rank(column: str, targets: dict[str, list[int]], references) -> tuple:
    """seeds; per dataset: pass@k by k, coverage, differences by reference, spread; diagnostics."""
    diagnostics = [c for _, c, _ in DIAGNOSTICS]
    base = column.removesuffix(" low").removesuffix(" high")
    end = (column.endswith(" low"), column.endswith(" high"))
    if column == "seeds":
        return (0,)
    if base in diagnostics:
        return (2, diagnostics.index(base), *end)
    dataset, _, rest = base.partition(" ")
    rank = list(targets).index(dataset) if dataset in targets else len(targets)
    k = int(rest.split()[0].removeprefix("pass@")) if rest.startswith("pass@") else 0
    if rest == "coverage %":
        kind = 1
    elif " vs " in rest:
        reference = rest.split(" vs ")[1].removesuffix(" (pp)")
        kind = 2 + (list(references).index(reference) if reference in references else len(references))
    elif rest.endswith("sd over seeds"):
        kind = 9
    elif rest.endswith("after SFT alone %"):
        kind = 8
    else:
        kind = 0
    return (1, rank, kind, k, *end)


def paired(seeds: dict[str, JobRun], reference: dict[str, JobRun], dataset: str, k: int,
           n_boot: int) -> Interval | None:
    """The paired difference on the seeds both rows ran and the problems all those runs have."""
    common = [seed for seed in seeds if seed in reference]
    if not common:
        return None
    both = counts([seeds[s] for s in common] + [reference[s] for s in common], dataset)
    if both is None:
        return None
    ns, cs, _ = both
    half = len(common)
    return paired_interval(pass_matrix(ns[:half], cs[:half], k), pass_matrix(ns[half:], cs[half:], k), n_boot,
                           groups=[base_draw(seed) for seed in common])


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """Interval triples as ``52.1 [48.0, 56.2]``; differences signed, ``*`` when the interval
    excludes 0; other numbers rounded."""
    out = {}
    for column in table.columns:
        if column.endswith((" low", " high")):
            continue
        if f"{column} low" in table.columns:
            out[column] = [cell(v, lo, hi, signed="(pp)" in column)
                           for v, lo, hi in zip(table[column], table[f"{column} low"], table[f"{column} high"])]
        else:
            out[column] = [("" if pd.isna(v) else f"{v:.4g}") if isinstance(v, float) else v for v in table[column]]
    return pd.DataFrame(out, index=table.index)


def cell(value: float, low: float, high: float, signed: bool) -> str:
    if pd.isna(value):
        return ""
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    if pd.isna(low):
        return text
    mark = " *" if signed and (low > 0 or high < 0) else ""
    return f"{text} [{low:.1f}, {high:.1f}]{mark}"


def to_markdown(table: pd.DataFrame) -> str:
    header = "| variant | " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    for label, row in table.iterrows():
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
