"""``python -m int_exp.report``: write report.md, a CSV and a pass@k plot per comparison group."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from int_exp.report.benchmarks import benchmark_tables
from int_exp.report.plots import plot_pass_at_k
from int_exp.report.runs import job_runs
from int_exp.report.tables import REFERENCES, compare, datasets_and_ks, to_markdown

USAGE = """The paper-style comparison, read back from MLflow, with 95% bootstrap intervals.

Rows are variants (seeds pooled); columns are pass@k and coverage per evaluation set with their
intervals, paired differences against the reference variants, and the paper's diagnostics. An
evaluation set whose problems name their benchmark (the paper's test set) also gets the paper's
table per k: one column per benchmark and their average.

    python -m int_exp.report --experiment sandbox             # every finished job of an experiment
    python -m int_exp.report --parent-run-id <sweep run id>   # the jobs of one sweep
    python -m int_exp.report --experiment sandbox --register int-sandbox  # and register the best row's model
"""
DEFAULT_OUT = Path("outputs") / "report"  # outputs/ is git-ignored (Hydra's own run folder)


def write_report(tracking_cfg: Any, out_dir: Path, parent_run_id: str | None = None,
                 references=REFERENCES, n_boot: int = 2000, register: str | None = None) -> tuple[list[Path], str]:
    """Write report.md, ``comparison_<i>.csv`` (numbers) and ``pass_at_k_<i>.png`` per comparison
    group into ``out_dir``; return the files and the report's text. Reads MLflow and writes nothing
    there, unless ``register`` names a registered model: then the best row of each group gets its
    final checkpoint registered as a new version of it (:mod:`int_exp.report.registry`)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_cfg.uri)
    experiment = client.get_experiment_by_name(tracking_cfg.experiment)
    if experiment is None:
        return [], f"no MLflow experiment named {tracking_cfg.experiment!r} at {tracking_cfg.uri}"
    runs = job_runs(client, experiment.experiment_id, parent_run_id)
    if not runs:
        return [], (f"nothing to report in experiment {tracking_cfg.experiment!r} at {tracking_cfg.uri}: no "
                    "FINISHED job runs with pass@k metrics (failed, killed and running jobs are not reported)")
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    sections, files = [], []
    for index, group_runs in enumerate(groups.values()):
        comparison = compare(group_runs, references, n_boot)
        csv, png = out_dir / f"comparison_{index}.csv", out_dir / f"pass_at_k_{index}.png"
        comparison.numbers.to_csv(csv)
        files.append(csv)
        if any(comparison.curves.values()):
            plot_pass_at_k({d: c for d, c in comparison.curves.items() if c}, png)
            files.append(png)
        seeds = sorted({s for row in comparison.seeds.values() for s in row})
        sections.append(
            f"## Base model `{comparison.model}`, eval on `{comparison.eval_data}` (comparison group "
            f"{comparison.group}; replicates {', '.join(seeds)})\n\n{to_markdown(comparison.text)}\n")
        if register:
            sections.append(register_best(tracking_cfg.uri, register, comparison, group_runs))
        for table in benchmark_tables(group_runs, datasets_and_ks(group_runs), n_boot):
            path = out_dir / f"benchmarks_{index}_{table.dataset}_pass_at_{table.k}.csv"
            table.numbers.to_csv(path)
            files.append(path)
            sections.append(f"### `{table.dataset}` pass@{table.k} % per benchmark, as in the paper "
                            f"(average: unweighted over benchmarks)\n\n{to_markdown(table.text)}\n")
    legend = ("pass@k and coverage in % with 95% bootstrap intervals over problems and replicates (base-model seeds "
              "resampled first, then the run seeds of each); `vs` columns: paired differences in percentage points, "
              "`*` where the interval excludes 0.\n")
    text = "# Variant comparison\n\n" + legend + "\n" + "\n".join(sections)
    report = out_dir / "report.md"
    report.write_text(text)
    return [report] + files, text


def register_best(uri: str, name: str, comparison, runs) -> str:
    """Register the best row's final checkpoint; the report's line saying what was registered."""
    from int_exp.report.registry import best_row, final_model, register

    best = best_row(comparison.numbers, comparison.text, datasets_and_ks(runs))
    if best is None:
        return f"Not registered as `{name}`: no pass@k to rank the rows by.\n"
    label, column, interval = best
    dataset, k = column.split(" pass@")[0], column.split(" pass@")[1].split()[0]
    run = final_model(runs, label, f"{dataset}/pass_at_{k}")
    if run is None:
        return (f"Not registered as `{name}`: the best row `{label}` has no job run that recorded its model "
                "(runs logged before checkpoints were MLflow models).\n")
    done = register(uri, name, run, label, column, interval, comparison.group)
    return (f"Registered `{done.name}` version {done.version}: row `{label}` ({column} {interval}), model "
            f"`{done.model_id}` of job run `{run.run_id}`; start a job from it with "
            f"`model.name_or_path=models:/{done.name}/{done.version}`.\n")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m int_exp.report", description=USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tracking-uri", "--uri", dest="tracking_uri", default="sqlite:///mlruns/mlflow.db",
                   help="MLflow tracking URI, as in MLflow's own CLI (default: %(default)s)")
    p.add_argument("--experiment", default="int-exp", help="MLflow experiment name (default: %(default)s)")
    p.add_argument("--parent-run-id", default=None, help="only the job runs of this sweep's parent run")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: the sweep's folder/report with --parent-run-id, else outputs/report)")
    p.add_argument("--reference", action="append", default=None,
                   help="reference variant for paired differences; repeat for several (default: rl_only and base)")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--register", metavar="NAME", default=None,
                   help="register the best row's final checkpoint as a new version of model NAME, with the "
                        "report's interval as a tag (default: read-only)")
    p.add_argument("--log", action="store_true",
                   help="also log the report as an MLflow run (default: read-only, nothing written to MLflow)")
    return p


def output_folder(client, args) -> Path:
    if args.out is not None:
        return args.out
    if args.parent_run_id:
        sweep_dir = client.get_run(args.parent_run_id).data.tags.get("sweep_dir")
        if sweep_dir:
            return Path(sweep_dir) / "report"
    return DEFAULT_OUT


def store_problem(uri: str) -> str | None:
    """Why the report cannot read ``uri`` without changing it: a sqlite store that is missing,
    empty or not a complete MLflow store (MLflow would create or migrate it on opening)."""
    from int_exp.tracking import sqlite_path

    path = sqlite_path(uri)
    if path is None:
        return None
    if not path.is_file():
        return f"no MLflow store at {uri} ({path} does not exist); pass --tracking-uri of an existing store"
    if path.stat().st_size == 0:
        return f"the MLflow store {path} is empty (0 bytes): nothing to report"
    import sqlalchemy
    from mlflow.store.db.utils import _all_tables_exist

    engine = sqlalchemy.create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    try:
        complete = _all_tables_exist(engine)
    except sqlalchemy.exc.DBAPIError as e:
        return f"{path} cannot be read as an MLflow sqlite store ({e.orig})"
    finally:
        engine.dispose()
    if not complete:
        return (f"{path} is not a complete MLflow store of this MLflow version (tables missing); "
                "the report does not create or migrate stores")
    return None


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 with a report written, 1 when there is nothing to report (no experiment, or
    no finished job runs with pass@k), 2 when the store cannot be read as it is."""
    import sys

    args = parser().parse_args(argv)
    problem = store_problem(args.tracking_uri)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from mlflow import MlflowClient

    client = MlflowClient(args.tracking_uri)  # an existing, complete store: opening writes nothing
    tracking = argparse.Namespace(uri=args.tracking_uri, experiment=args.experiment)
    out = output_folder(client, args)
    files, text = write_report(tracking, out, args.parent_run_id, tuple(args.reference or REFERENCES), args.bootstrap,
                               register=args.register)
    if not files:
        print(f"error: {text}", file=sys.stderr)
        return 1
    print(text)
    print(f"written to {out}/")
    if args.register and f"Registered `{args.register}` version" not in text:
        print(f"error: nothing registered as {args.register!r} (see the report)", file=sys.stderr)
        return 1
    if args.log:
        experiment_id = client.get_experiment_by_name(args.experiment).experiment_id
        run = client.create_run(experiment_id, run_name="report", tags={"report": "true",
                                "mlflow.note.content": "the variant comparison table (python -m int_exp.report)"})
        for path in files:
            client.log_artifact(run.info.run_id, str(path), "report")
        client.set_terminated(run.info.run_id)
        print(f"logged to MLflow run {run.info.run_id}")
    return 0
