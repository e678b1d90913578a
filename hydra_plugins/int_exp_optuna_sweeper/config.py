"""Config schema of the int-exp Optuna sweeper, registered as ``hydra/sweeper=optuna``.

Also registers the ``hydra/sweeper/sampler`` options (tpe, random, cmaes, nsgaii, qmc, gp, grid),
so ``override /hydra/sweeper/sampler: random`` works as with hydra-optuna-sweeper. A sampler can
also be given inline: ``sampler: {_target_: optuna.samplers.TPESampler, seed: 1, n_startup_trials: 5}``
(any keyword argument of the class). Hydra instantiates it before the sweeper sees it.

This module is imported by Hydra's plugin scan on every run, so it must stay light (no optuna).
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

DEFAULT_STORAGE = "sqlite:///sweeps/optuna.db"


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.int_exp_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])

    # An optuna sampler: {_target_: optuna.samplers.XSampler, seed: ..., **kwargs}; default TPE.
    sampler: Any = MISSING
    # "minimize" | "maximize", or a list of them for multi-objective (the job returns a sequence).
    direction: Any = "minimize"
    # Optuna storage URL (a relative sqlite path is relative to the launch directory; its folder
    # is created), a {_target_: optuna.storages.X, ...} node, or null for an in-memory study.
    storage: Any = DEFAULT_STORAGE
    # null: "<search>-<experiment>-<hash of search space, fixed overrides, directions>" (the
    # hparams_search and experiment choices; hydra.job.name without them), so the same command
    # resumes the same study. Set it to choose the name (and to resume deliberately).
    study_name: str | None = None
    # TOTAL number of finished trials (COMPLETE/PRUNED/FAIL) wanted in the study, resumes included.
    n_trials: int = 20
    # Trials asked and launched together (one launcher.launch call per batch).
    n_jobs: int = 1
    # Stop (error) once failed/launched trials of this invocation exceeds it. 0.0: any failure stops.
    max_failure_rate: float = 0.0
    # Search space and fixed overrides: {"sft.lr": "tag(log, interval(1e-6, 1e-3))", "x": 3, ...}.
    params: dict[str, Any] | None = None
    # "pkg.module.fn": fn(cfg, trial) may call trial.suggest_*() for more (e.g. conditional) params.
    custom_search_space: str | None = None
    # The Hydra 1.1 form; unsupported (an error explains how to write it as `params`).
    search_space: dict[str, Any] | None = None
    # Config key that receives the Optuna trial number (as `++key=<n>`); null: not passed.
    trial_number_key: str | None = "tracking.trial_number"
    # Config key that receives the study name (as `++key=<name>`); null (default): not passed.
    study_name_key: str | None = None
    # A JSON object the job may write into its Hydra output folder; its entries become the trial's
    # user attributes (int-exp writes {"mlflow_run_id": ..., "mlflow_experiment_id": ...}).
    job_info_file: str | None = "job_info.json"


def _sampler(target: str, **extra: Any) -> dict[str, Any]:
    return {"_target_": target, "seed": None, **extra}


SAMPLERS: dict[str, dict[str, Any]] = {
    "tpe": _sampler("optuna.samplers.TPESampler"),
    "random": _sampler("optuna.samplers.RandomSampler"),
    "cmaes": _sampler("optuna.samplers.CmaEsSampler"),  # needs the `cmaes` package
    "nsgaii": _sampler("optuna.samplers.NSGAIISampler"),
    "qmc": _sampler("optuna.samplers.QMCSampler"),
    "gp": _sampler("optuna.samplers.GPSampler"),  # needs torch and scipy
    # The grid is built from the (discrete) search space, hence a partial.
    "grid": _sampler("optuna.samplers.GridSampler", _partial_=True),
}

cs = ConfigStore.instance()
cs.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="int_exp_optuna_sweeper")
for _name, _node in SAMPLERS.items():
    cs.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider="int_exp_optuna_sweeper")
