"""``--register NAME``: the best row's final checkpoint as a new version in the Model Registry."""

from __future__ import annotations

from dataclasses import dataclass

from int_exp.report.runs import JobRun


@dataclass
class Registered:
    name: str
    version: str
    model_id: str
    row: str
    interval: str  # the report's cell, "52.1 [48.0, 56.2]"
    column: str


def best_row(numbers, text, datasets_ks: dict[str, list[int]]) -> tuple[str, str, str] | None:
    """``(row label, column, interval text)`` of the highest pass@k of the first evaluation set at its
    smallest k (ties: the first row in the report's order)."""
    if not datasets_ks:
        return None
    dataset, ks = next(iter(datasets_ks.items()))
    column = f"{dataset} pass@{ks[0]} %"
    if column not in numbers or numbers[column].isna().all():
        return None
    label = numbers[column].idxmax()
    return label, column, str(text.loc[label, column])


def final_model(runs: list[JobRun], label: str, metric: str) -> JobRun | None:
    """The row's replicate with the highest job metric (the newest among equals) that recorded the
    model its pass@k measures."""
    candidates = [run for run in runs if run.label == label and run.model_id]
    return max(candidates, key=lambda run: run.metrics.get(metric, float("-inf")), default=None)


def register(uri: str, name: str, run: JobRun, row: str, column: str, interval: str, group: str) -> Registered:
    """A new version of registered model ``name`` (created if new) from the run's evaluated
    LoggedModel, tagged with the report's interval for it."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    tags = {"report_row": row, "report_metric": column, "report_interval": interval, "variant": run.variant,
            "replicate": run.seed, "comparison_group": group, "job_run_id": run.run_id}
    version = mlflow.register_model(f"models:/{run.model_id}", name, tags=tags)
    return Registered(name, str(version.version), run.model_id, row, interval, column)
