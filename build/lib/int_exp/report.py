"""The paper-style comparison table, read back from MLflow.

Rows are variants; columns are each benchmark's pass@k and their average over benchmarks.
Runs are grouped by the ``comparison_group`` tag (base model + every evaluation setting), so
runs with different base models or eval settings are never mixed in one table.

    python -m int_exp.report --experiment smoke            # all finished jobs of an experiment
    python -m int_exp.report --parent-run-id <sweep run>   # the jobs of one sweep
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import pandas as pd

PASS_AT = re.compile(r"^(?P<dataset>[^/]+)/pass_at_(?P<k>\d+)$")
VARIANT_ORDER = ["base", "rl_only", "hint_rl", "sft_ref", "sft_reflect", "int_no_prefix", "int_with_suffix",
                 "int_no_filter", "int"]


def row_label(run) -> str:
    """The variant, plus any other override that tells two runs of one variant apart."""
    skip = ("variant=", "experiment=", "hparams_search=", "tracking.", "paths.", "hydra")
    overrides = run.data.params.get("overrides", "")
    extra = [o for o in overrides.split() if o != "(none)" and not o.lstrip("+~").startswith(skip)]
    return run.data.tags["variant"] + (f" [{' '.join(sorted(extra))}]" if extra else "")


def job_runs(client, experiment_id: str, parent_run_id: str | None) -> pd.DataFrame:
    """Finished job runs (not stage runs), newest first, with their pass@k metrics."""
    query = "attributes.status = 'FINISHED' and tags.variant != ''"
    if parent_run_id:
        query += f" and tags.mlflow.parentRunId = '{parent_run_id}'"
    runs = client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"], max_results=5000)
    rows = []
    for run in runs:
        metrics = {k: v for k, v in run.data.metrics.items() if PASS_AT.match(k)}
        if "stage" in run.data.tags or not metrics:
            continue
        rows.append({"run_id": run.info.run_id, "variant": row_label(run),
                     "group": run.data.tags.get("comparison_group", "?"), "model": run.data.tags.get("model", "?"),
                     "eval_data": run.data.tags.get("eval_data", "?"), **metrics})
    return pd.DataFrame(rows)


def variant_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per variant (its newest run), pass@k columns, then per-k averages over datasets."""
    latest = runs.drop_duplicates("variant", keep="first").set_index("variant")
    metric_cols = sorted((c for c in latest.columns if PASS_AT.match(c)),
                         key=lambda c: (PASS_AT.match(c)["dataset"], int(PASS_AT.match(c)["k"])))
    table = latest[metric_cols].astype(float) * 100
    for k in sorted({int(PASS_AT.match(c)["k"]) for c in metric_cols}):
        cols = [c for c in metric_cols if int(PASS_AT.match(c)["k"]) == k]
        table[f"average/pass_at_{k}"] = table[cols].mean(axis=1)
    rank = {name: i for i, name in enumerate(VARIANT_ORDER)}
    order = sorted(table.index, key=lambda label: (rank.get(label.split(" [")[0], len(rank)), label))
    table = table.loc[order].round(2)
    table.insert(0, "runs", runs.groupby("variant").size().reindex(order).values)
    return table


def to_markdown(table: pd.DataFrame) -> str:
    header = "| variant | " + " | ".join(table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    for variant, row in table.iterrows():
        lines.append(f"| {variant} | " + " | ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def plot_curves(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({PASS_AT.match(c)["dataset"] for c in table.columns if PASS_AT.match(c)})
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        cols = sorted((c for c in table.columns if PASS_AT.match(c) and PASS_AT.match(c)["dataset"] == dataset),
                      key=lambda c: int(PASS_AT.match(c)["k"]))
        ks = [int(PASS_AT.match(c)["k"]) for c in cols]
        for variant, row in table.iterrows():
            ax.plot(ks, [row[c] for c in cols], marker="o", label=variant)
        ax.set_xscale("log", base=2)
        ax.set_title(dataset)
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(tracking_cfg: Any, out_dir: Path, parent_run_id: str | None = None) -> tuple[list[Path], str]:
    """Write report.md, one CSV and one curve plot per comparison group; return files and text."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_cfg.uri)
    experiment = client.get_experiment_by_name(tracking_cfg.experiment)
    if experiment is None:
        return [], f"no MLflow experiment named {tracking_cfg.experiment!r}"
    runs = job_runs(client, experiment.experiment_id, parent_run_id)
    if runs.empty:
        return [], "no finished runs with pass@k metrics to report"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections, files = [], []
    for index, (group, group_runs) in enumerate(runs.groupby("group", sort=False)):
        table = variant_table(group_runs)
        first = group_runs.iloc[0]
        csv, png = out_dir / f"comparison_{index}.csv", out_dir / f"pass_at_k_{index}.png"
        table.to_csv(csv)
        plot_curves(table, png)
        files += [csv, png]
        sections.append(f"## Base model `{first['model']}`, eval on `{first['eval_data']}` "
                        f"(comparison group {group}; pass@k in %)\n\n{to_markdown(table)}\n")
    text = "# Variant comparison\n\n" + "\n".join(sections)
    report = out_dir / "report.md"
    report.write_text(text)
    return [report] + files, text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--experiment", default="int-exp")
    parser.add_argument("--parent-run-id", default=None)
    parser.add_argument("--out", default="reports")
    parser.add_argument("--no-log", action="store_true", help="do not log the report as an MLflow run")
    args = parser.parse_args(argv)
    tracking = argparse.Namespace(uri=args.uri, experiment=args.experiment)
    files, text = write_report(tracking, Path(args.out), args.parent_run_id)
    print(text)
    if files and not args.no_log:
        from mlflow import MlflowClient

        client = MlflowClient(args.uri)
        experiment_id = client.get_experiment_by_name(args.experiment).experiment_id
        run = client.create_run(experiment_id, run_name="report", tags={"report": "true"})
        for path in files:
            client.log_artifact(run.info.run_id, str(path), "report")
        client.set_terminated(run.info.run_id)
        print(f"logged to MLflow run {run.info.run_id}")


if __name__ == "__main__":
    main()
