"""Hydra callback: one MLflow parent run per sweep, closed with the best trial and the report.

Jobs find the parent run id in a file in the sweep folder (see ``int_exp.cli``), so trials that
run in other processes or on other nodes (submitit) attach to it explicitly.
"""

from __future__ import annotations

import atexit
import logging
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("int_exp.sweep")


class SweepTracking(Callback):
    def __init__(self) -> None:
        self.tracker = None
        self.run_id: str | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.tracking.enabled or config.tracking.parent_run_id:
            return
        from int_exp.cli import PARENT_RUN_FILE
        from int_exp.tracking import MlflowTracker

        self.tracker = MlflowTracker(config.tracking)
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        overrides = " ".join(config.hydra.overrides.task)
        swept = [o.split("=", 1)[0] for o in config.hydra.overrides.task if "," in o.split("=", 1)[-1]]
        what = OmegaConf.select(config, "hydra.sweeper.study_name") or (
            f"{', '.join(swept)} sweep" if swept else "sweep")
        name = f"{config.tracking.experiment}: {what} {time.strftime('%Y-%m-%d %H:%M')}"
        tags = {"sweep": "true", "run_kind": "sweep", "sweep_dir": str(sweep_dir),
                "mlflow.note.content": f"sweep over {overrides or '(no overrides)'}: one child run per job"}
        self.run_id = self.tracker.start_run(name, None, tags)
        self.tracker.log_params(self.run_id, {"sweep_overrides": overrides or "(none)"})
        (sweep_dir / PARENT_RUN_FILE).write_text(self.run_id)
        # Hydra skips on_multirun_end when the sweep raises (e.g. too many failed trials):
        # close the parent run at exit then, FAILED, so it never stays RUNNING.
        atexit.register(self.close_if_open)
        log.info("MLflow sweep run %s", self.run_id)

    def close_if_open(self) -> None:
        if self.run_id is not None:
            run_id, self.run_id = self.run_id, None
            self.tracker.end_run(run_id, RuntimeError("the sweep stopped before it finished"))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.run_id is None:
            return
        error = None
        try:
            self.log_best_trial(config, Path(config.hydra.sweep.dir))
            self.log_report(config)
        except Exception as exc:  # the sweep's jobs are done; a reporting problem must not hide them
            log.exception("sweep summary failed")
            error = exc
        run_id, self.run_id = self.run_id, None
        self.tracker.end_run(run_id, error)

    def log_best_trial(self, config: DictConfig, sweep_dir: Path) -> None:
        results = sweep_dir / "optimization_results.yaml"
        if not results.exists():
            return
        best = OmegaConf.to_container(OmegaConf.load(results), resolve=True)
        # Rounded for reading; optimization_results.yaml (logged below) keeps the exact values.
        params = {f"best.{k}": (float(f"{v:.4g}") if isinstance(v, float) else v)
                  for k, v in (best.get("best_params") or {}).items()}
        self.tracker.log_params(self.run_id, params)
        if best.get("best_value") is not None:
            self.tracker.log_metrics(self.run_id, {"best_value": float(best["best_value"])})
        self.tracker.client.log_artifact(self.run_id, str(results))
        if best.get("best_trial") is not None:
            self.tracker.set_tags(self.run_id, {"best_trial": best["best_trial"], "study_name": best["study_name"]})
        storage = OmegaConf.select(config, "hydra.sweeper.storage")
        if best.get("study_name") and isinstance(storage, str):
            for path in study_plots(best["study_name"], storage, sweep_dir / "optuna"):
                self.tracker.client.log_artifact(self.run_id, str(path), "optuna")

    def log_report(self, config: DictConfig) -> None:
        from int_exp.report import write_report

        out_dir = Path(config.hydra.sweep.dir) / "report"
        files, text = write_report(config.tracking, out_dir, parent_run_id=self.run_id)
        for path in files:
            self.tracker.client.log_artifact(self.run_id, str(path), "report")
        print(text)


def study_plots(study_name: str, storage: str, out_dir: Path) -> list[Path]:
    """Optimization history, parallel coordinates and parameter importances of a study, as PNGs
    (``optuna.visualization.matplotlib``); a plot the study cannot support yet (too few finished
    trials for importances) is skipped with a note."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as plots

    study = optuna.load_study(study_name=study_name, storage=storage)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, plot in [("optimization_history", plots.plot_optimization_history),
                       ("parallel_coordinate", plots.plot_parallel_coordinate),
                       ("param_importances", plots.plot_param_importances)]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" warnings of optuna.visualization.matplotlib
                axes = plot(study)
        except Exception as exc:  # noqa: BLE001 - e.g. importances need two finished trials
            log.info("Optuna %s plot skipped: %s", name, exc)
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.set_size_inches(7, 4.5)
        figure.tight_layout()
        path = out_dir / f"{name}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written
