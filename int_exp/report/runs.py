"""What the report reads from MLflow: finished job runs and their per-problem eval counts."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field

import pandas as pd

PASS_AT = re.compile(r"^(?P<dataset>[^/]+)/pass_at_(?P<k>\d+)$")
# Written by the eval stage (one row per dataset and problem), logged on the job run.
PER_PROBLEM_FILE = "per_problem.csv"
PER_PROBLEM_COLUMNS = ["dataset", "problem_id", "n", "correct"]
# Overrides that do not tell two rows apart: the variant is the row, seeds are pooled within it.
NOT_A_ROW = ("variant=", "experiment=", "hparams_search=", "tracking.", "paths.", "hydra", "seed=", "threads=")


@dataclass
class JobRun:
    run_id: str
    label: str  # the table row: variant plus any override that sets it apart
    variant: str
    seed: str
    group: str  # comparison_group tag: base model and eval settings
    model: str
    eval_data: str
    metrics: dict[str, float] = field(default_factory=dict)
    per_problem: pd.DataFrame | None = None  # dataset, problem_id, n, correct
    model_id: str | None = None  # the LoggedModel its pass@k measures (runs logged since 2026-12-05)


def replicate_of(tags: dict[str, str], params: dict[str, str]) -> str:
    """The run's replicate (``seed=0``, ``model.sandbox.seed=1 seed=0``): what the report pools
    within a row and pairs across rows. Runs logged before the tag existed: their seed."""
    return tags.get("replicate") or f"seed={tags.get('seed', params.get('seed', '0'))}"


def row_label(tags: dict[str, str], params: dict[str, str]) -> str:
    """The variant, plus any other override that tells two runs of one variant apart (neither
    the replicate seeds nor the settings of :data:`NOT_A_ROW`)."""
    overrides = params.get("overrides", "")
    replicates = tuple(f"{part.split('=', 1)[0]}=" for part in replicate_of(tags, params).split())
    extra = [o for o in overrides.split()
             if o != "(none)" and not o.lstrip("+~").startswith(NOT_A_ROW + replicates)]
    return tags["variant"] + (f" [{' '.join(sorted(extra))}]" if extra else "")


def per_problem_counts(client, run_id: str) -> pd.DataFrame | None:
    """The job's ``per_problem.csv``, or None for runs logged before it existed."""
    if PER_PROBLEM_FILE not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one tiny file per run
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, PER_PROBLEM_FILE, tmp)
        table = pd.read_csv(path, dtype={"problem_id": str})
    if not set(PER_PROBLEM_COLUMNS) <= set(table.columns):
        raise ValueError(f"run {run_id}: {PER_PROBLEM_FILE} has columns {sorted(table.columns)}, "
                         f"expected {PER_PROBLEM_COLUMNS}")
    return table


def job_runs(client, experiment_id: str, parent_run_id: str | None = None) -> list[JobRun]:
    """Finished job runs (not stage runs) with pass@k metrics, newest first; for each (row, seed)
    only the newest run is kept, so a re-run replaces the earlier one instead of counting twice."""
    query = "attributes.status = 'FINISHED' and tags.variant != ''"
    if parent_run_id:
        query += f" and tags.mlflow.parentRunId = '{parent_run_id}'"
    found = client.search_runs([experiment_id], query, order_by=["attributes.start_time DESC"], max_results=5000)
    runs, seen = [], set()
    for run in found:
        tags, params = run.data.tags, run.data.params
        if "stage" in tags or not any(PASS_AT.match(k) for k in run.data.metrics):
            continue
        label, group = row_label(tags, params), tags.get("comparison_group", "?")
        seed = replicate_of(tags, params)
        if (group, label, seed) in seen:
            continue
        seen.add((group, label, seed))
        runs.append(JobRun(run.info.run_id, label, tags["variant"], seed, group, tags.get("model", "?"),
                           tags.get("eval_data", "?"), dict(run.data.metrics), per_problem_counts(client, run.info.run_id),
                           tags.get("evaluated_model_id")))
    return runs
