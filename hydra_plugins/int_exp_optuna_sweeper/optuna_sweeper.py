"""The sweeper: Optuna ask-and-tell around Hydra's configured launcher (see the package docstring).

Hydra imports this module on every run (plugin scan), so optuna is imported only inside sweep().
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, ListConfig, OmegaConf

from int_exp.runtime.processes import HOST, process_alive

from . import config as _config

if TYPE_CHECKING:
    import optuna

    from ._search_space import SearchSpace

log = logging.getLogger(__name__)

RESULTS_FILE = "optimization_results.yaml"
_DIRECTIONS = ("minimize", "maximize")


class SweepFailureRateExceeded(RuntimeError):
    """More trials failed than ``hydra.sweeper.max_failure_rate`` allows."""


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any = None,
        direction: Any = "minimize",
        storage: Any = _config.DEFAULT_STORAGE,
        study_name: str | None = None,
        n_trials: int = 20,
        n_jobs: int = 1,
        max_failure_rate: float = 0.0,
        params: Any | None = None,
        custom_search_space: str | None = None,
        search_space: Any | None = None,
        trial_number_key: str | None = "tracking.trial_number",
        study_name_key: str | None = None,
        job_info_file: str | None = "job_info.json",
    ) -> None:
        if search_space:
            raise ValueError(
                "hydra.sweeper.search_space (the Hydra 1.1 form) is not supported; write the search "
                "space as hydra.sweeper.params, e.g. {x: 'interval(0, 1)', n: 'range(1, 8)', "
                "lr: 'tag(log, interval(1e-6, 1e-3))', opt: 'choice(adam, sgd)'}"
            )
        if not 0.0 <= float(max_failure_rate) <= 1.0:
            raise ValueError(f"hydra.sweeper.max_failure_rate must be in [0, 1], got {max_failure_rate}")
        if int(n_trials) < 0:
            raise ValueError(f"hydra.sweeper.n_trials must be >= 0, got {n_trials}")
        if int(n_jobs) < 1:
            raise ValueError(f"hydra.sweeper.n_jobs must be >= 1, got {n_jobs}")
        self.sampler = sampler
        self.directions = _parse_directions(direction)
        self.storage = storage
        self.study_name = study_name
        self.n_trials = int(n_trials)
        self.n_jobs = int(n_jobs)
        self.max_failure_rate = float(max_failure_rate)
        self.params = params
        self.custom_search_space = custom_search_space
        self.trial_number_key = trial_number_key
        self.study_name_key = study_name_key
        self.job_info_file = job_info_file

        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        # Filled by sweep(): the study, and the JobReturns of each launched batch.
        self.study: optuna.Study | None = None
        self.returns: list[Sequence[JobReturn]] = []
        self.results_path: Path | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    # ------------------------------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        import optuna
        from optuna.trial import TrialState

        from ._search_space import params_to_overrides, parse_search_space

        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        space = parse_search_space(
            params_to_overrides(self.params) + list(arguments), self.hydra_context.config_loader
        )
        custom = _get_custom_search_space(self.custom_search_space)
        sampler, n_trials = self._make_sampler(space)
        study_name = self.study_name or self._derived_study_name(space)
        storage = self._make_storage()

        study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=study_name,
            directions=self.directions,
            load_if_exists=True,
        )
        self.study = study
        previous = len(study.get_trials(deepcopy=False))
        if previous:  # resuming: a sampler seeded as before would ask the same points again
            study.sampler = self._make_sampler(space, seed_offset=previous)[0]
        retried = _retry_trials_of_dead_sweepers(study)
        existing = [d.name.lower() for d in study.directions]
        if existing != self.directions:
            raise ValueError(
                f"Study '{study_name}' in {_describe_storage(self.storage)} optimizes {existing}, "
                f"but hydra.sweeper.direction is {self.directions}; use another study_name"
            )
        _check_compatible(study, space)

        trials = study.get_trials(deepcopy=False)
        n_finished = sum(t.state.is_finished() for t in trials)
        n_running = sum(t.state == TrialState.RUNNING for t in trials)
        log.info("Optuna study '%s' in %s", study_name, _describe_storage(self.storage))
        log.info("Sampler: %s; direction(s): %s", type(sampler).__name__, ", ".join(self.directions))
        log.info("Search space: %s", {k: str(v) for k, v in space.distributions.items()} or "(none)")
        if space.fixed:
            log.info("Fixed overrides: %s", " ".join(space.fixed.values()))
        log.info(
            "n_trials=%d is the study total: %d finished already, %d to run (batches of %d)",
            n_trials, n_finished, max(0, n_trials - n_finished), self.n_jobs,
        )
        if retried:
            log.warning("Study '%s': trial(s) %s were left RUNNING by a sweep that is gone; marked FAIL and "
                        "queued again with the same parameters", study_name, retried)
        if n_running:
            log.warning(
                "Study '%s' has %d RUNNING trial(s) of live sweeps (or of other hosts); they are not "
                "counted as finished", study_name, n_running,
            )

        launched = 0
        failures: list[tuple[int, str]] = []
        first_exception: BaseException | None = None
        while True:
            n_finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
            batch_size = min(self.n_jobs, n_trials - n_finished)
            if batch_size <= 0:
                break
            batch: list[optuna.Trial] = []
            try:
                for _ in range(batch_size):
                    batch.append(self._ask(study, space))
                overrides = []
                for trial in batch:
                    if custom is not None:
                        custom(self.config, trial)
                    trial_overrides = self._trial_overrides(trial, space)
                    trial.set_user_attr("overrides", trial_overrides)
                    overrides.append(trial_overrides + self._tracking_overrides(trial, study_name))
                self._validate(overrides)
            except BaseException as exc:
                _fail_all(study, batch, f"before launch: {type(exc).__name__}: {exc}")
                raise

            try:
                returns: Sequence[JobReturn] | None = self.launcher.launch(
                    overrides, initial_job_idx=batch[0].number
                )
            except Exception as exc:  # e.g. a submitit job killed by the cluster
                log.exception("The launcher failed for trials %s", [t.number for t in batch])
                reason = f"launcher error: {type(exc).__name__}: {exc}"
                _fail_all(study, batch, reason)
                failures += [(t.number, reason) for t in batch]
                first_exception = first_exception or exc
                returns = None
            except BaseException as exc:  # KeyboardInterrupt: leave no trial RUNNING
                _fail_all(study, batch, f"interrupted: {type(exc).__name__}")
                raise
            launched += len(batch)

            if returns is not None:
                self.returns.append(returns)
                for trial, ret in zip(batch, returns):
                    reason, exc = self._tell(study, trial, ret)
                    if reason is not None:
                        failures.append((trial.number, reason))
                        if first_exception is None and isinstance(exc, BaseException):
                            first_exception = exc
                if len(returns) < len(batch):  # a launcher that lost jobs
                    missing = batch[len(returns):]
                    _fail_all(study, missing, "the launcher returned no result")
                    failures += [(t.number, "the launcher returned no result") for t in missing]

            if failures and len(failures) / launched > self.max_failure_rate:
                self._write_results(study, space)
                details = "\n".join(f"  trial {n}: {r}" for n, r in failures[:10])
                raise SweepFailureRateExceeded(
                    f"Optuna sweep stopped: {len(failures)} of {launched} trials launched by this "
                    f"sweep failed, more than hydra.sweeper.max_failure_rate={self.max_failure_rate}."
                    f"\n{details}\nThe study '{study_name}' keeps them as FAIL; fix the cause (or raise "
                    "max_failure_rate) and re-run the same command to continue it."
                ) from first_exception

        self._write_results(study, space)
        return self.returns

    # ------------------------------------------------------------------------------------------
    def _make_sampler(self, space: SearchSpace, seed_offset: int = 0) -> tuple[Any, int]:
        """The configured sampler; ``seed_offset`` (the study's trial count when resuming) moves
        its seed on, so a resumed study continues the sequence instead of repeating it."""
        import optuna
        from hydra.utils import instantiate

        from ._search_space import grid_from_distributions

        sampler = self.sampler
        if seed_offset and self.config is not None:  # Hydra hands the sampler over instantiated
            sampler = OmegaConf.select(self.config, "hydra.sweeper.sampler", default=sampler)
        if isinstance(sampler, DictConfig):
            sampler = sampler.copy()
            if seed_offset and sampler.get("seed") is not None:
                sampler.seed = (int(sampler.seed) + seed_offset) % 2**32
            sampler = instantiate(sampler)
        elif sampler is None and seed_offset:
            sampler = optuna.samplers.TPESampler(seed=seed_offset)
        if sampler is None:
            sampler = optuna.samplers.TPESampler()
        n_trials = self.n_trials
        if isinstance(sampler, functools.partial):
            if sampler.func is not optuna.samplers.GridSampler:
                sampler = sampler()
            else:
                grid = grid_from_distributions(space.distributions)
                sampler = sampler(grid)
                size = math.prod(len(v) for v in grid.values())
                if size < n_trials:
                    log.info("GridSampler: the grid has %d points, n_trials %d -> %d", size, n_trials, size)
                    n_trials = size
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            raise TypeError(f"hydra.sweeper.sampler must make an optuna sampler, got {sampler!r}")
        return sampler, n_trials

    def _make_storage(self) -> Any:
        storage = self.storage
        if isinstance(storage, DictConfig):
            from hydra.utils import instantiate

            storage = instantiate(storage)
        if isinstance(storage, str) and storage.startswith("sqlite:///"):
            path = storage[len("sqlite:///"):].split("?", 1)[0]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        return storage

    def _job_info(self, output_dir: Path) -> dict[str, Any]:
        """The entries of the job's ``job_info_file``; nothing when it wrote none (or not JSON)."""
        path = output_dir / self.job_info_file if self.job_info_file else None
        if path is None or not path.is_file():
            return {}
        try:
            info = json.loads(path.read_text())
        except ValueError:
            log.warning("%s is not JSON; the trial keeps no job info", path)
            return {}
        return info if isinstance(info, dict) else {}

    def _derived_study_name(self, space: SearchSpace) -> str:
        from optuna.distributions import distribution_to_json

        assert self.config is not None
        material = json.dumps(
            {
                "distributions": {k: distribution_to_json(d) for k, d in space.distributions.items()},
                "fixed": sorted(space.fixed.values()),
                "directions": self.directions,
                "custom_search_space": self.custom_search_space,
            },
            sort_keys=True,
        )
        digest = hashlib.sha1(material.encode()).hexdigest()[:6]
        choices = self.config.hydra.runtime.choices
        parts = [choices.get(group) for group in ("hparams_search", "experiment")]
        named = [str(part) for part in parts if part and str(part) != "none"]
        return "-".join(named or [str(self.config.hydra.job.name)]) + f"-{digest}"

    @staticmethod
    def _ask(study: optuna.Study, space: SearchSpace) -> optuna.Trial:
        try:
            trial = study.ask(fixed_distributions=space.distributions)
            trial.set_user_attr("sweeper_host", HOST)  # who runs it: a later sweep can tell it died
            trial.set_user_attr("sweeper_pid", os.getpid())
            return trial
        except ValueError as exc:
            raise ValueError(
                f"Optuna rejected the search space for study '{study.study_name}': {exc}. The study "
                "holds trials from a different search space; use another hydra.sweeper.study_name."
            ) from exc

    def _trial_overrides(self, trial: optuna.Trial, space: SearchSpace) -> list[str]:
        from ._search_space import format_value

        params = [f"{name}={format_value(value)}" for name, value in trial.params.items()]
        return params + [o for k, o in space.fixed.items() if k not in trial.params]

    def _tracking_overrides(self, trial: optuna.Trial, study_name: str) -> list[str]:
        out = []
        if self.trial_number_key:
            out.append(f"++{self.trial_number_key}={trial.number}")
        if self.study_name_key:
            quoted = study_name.replace("\\", "\\\\").replace("'", "\\'")
            out.append(f"++{self.study_name_key}='{quoted}'")
        return out

    def _validate(self, overrides: list[list[str]]) -> None:
        try:
            self.validate_batch_is_legal(overrides)
        except Exception as exc:
            if self.trial_number_key and self.trial_number_key in str(exc):
                log.error(
                    "The app's config refuses '%s': declare it (Optional[int]) or set "
                    "hydra.sweeper.trial_number_key=null", self.trial_number_key,
                )
            raise

    def _tell(self, study: optuna.Study, trial: optuna.Trial, ret: JobReturn) -> tuple[str | None, Any]:
        """Tell Optuna how the trial went; returns (failure reason or None, the job's exception)."""
        from optuna.trial import TrialState

        output_dir = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.output_dir") if ret.hydra_cfg else None
        if output_dir:
            trial.set_user_attr("output_dir", str(output_dir))
            for key, value in self._job_info(Path(str(output_dir))).items():
                trial.set_user_attr(key, value)
        exc = None
        if ret.status == JobStatus.FAILED:
            exc = ret._return_value
            reason: str | None = f"the job raised {type(exc).__name__}: {exc}"
            values = None
        elif ret.status != JobStatus.COMPLETED:
            reason, values = f"the job ended with status {ret.status.name}", None
        else:
            values, reason = _objective_values(ret._return_value, len(self.directions))
        state = TrialState.COMPLETE if reason is None else TrialState.FAIL
        if reason is not None:
            trial.set_user_attr("fail_reason", reason[:2000])
            exc_info = (type(exc), exc, exc.__traceback__) if isinstance(exc, BaseException) else None
            log.warning(
                "Trial %d failed (%s): %s", trial.number, _params_text(trial), reason, exc_info=exc_info
            )
        _tell(study, trial, values, state)
        if reason is None:
            shown = values[0] if len(values) == 1 else values  # type: ignore[arg-type]
            log.info("Trial %d finished: %s (%s)", trial.number, shown, _params_text(trial))
        return reason, exc

    def _write_results(self, study: optuna.Study, space: SearchSpace) -> None:
        from optuna.trial import TrialState

        assert self.config is not None
        trials = study.get_trials(deepcopy=False)
        results: dict[str, Any] = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": _describe_storage(self.storage),
            "direction": self.directions[0] if len(self.directions) == 1 else list(self.directions),
            "n_trials_by_state": dict(Counter(t.state.name for t in trials)),
            "fixed_overrides": list(space.fixed.values()),
        }
        if len(self.directions) == 1:
            if any(t.state == TrialState.COMPLETE for t in trials):
                best = study.best_trial
                results.update(
                    best_trial=best.number,
                    best_params=best.params,
                    best_value=best.value,
                    best_overrides=best.user_attrs.get("overrides"),
                )
                log.info("Best trial %d: value %s, params %s", best.number, best.value, best.params)
            else:
                results.update(best_trial=None, best_params=None, best_value=None, best_overrides=None)
                log.warning("No trial of study '%s' completed: no best value", study.study_name)
        else:
            best_trials = study.best_trials
            results["solutions"] = [
                {"trial": t.number, "params": t.params, "values": list(t.values)} for t in best_trials
            ]
            log.info("Number of Pareto solutions: %d", len(best_trials))
            for t in best_trials:
                log.info("    trial %d: values %s, params %s", t.number, t.values, t.params)
        log.info("Trials by state: %s", results["n_trials_by_state"])
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.results_path = sweep_dir / RESULTS_FILE
        OmegaConf.save(OmegaConf.create(_plain(results)), self.results_path)


# ----------------------------------------------------------------------------------------------
def _parse_directions(direction: Any) -> list[str]:
    items = list(direction) if isinstance(direction, (list, tuple, ListConfig)) else [direction]
    out = []
    for item in items:
        name = getattr(item, "name", item)  # an Enum (optuna.study.StudyDirection, ...) or a str
        name = str(name).lower()
        if name not in _DIRECTIONS:
            raise ValueError(
                f"hydra.sweeper.direction must be minimize or maximize (or a list of them), got {item!r}"
            )
        out.append(name)
    if not out:
        raise ValueError("hydra.sweeper.direction is an empty list")
    return out


def _objective_values(value: Any, n_objectives: int) -> tuple[list[float] | None, str | None]:
    """The job's return value as floats, or (None, why not)."""
    if n_objectives == 1:
        items = [value]
    elif isinstance(value, (list, tuple, ListConfig)):
        items = list(value)
        if len(items) != n_objectives:
            return None, f"expected {n_objectives} objective values, the job returned {value!r}"
    else:
        return None, f"expected a sequence of {n_objectives} objective values, the job returned {value!r}"
    values = []
    for item in items:
        if item is None or isinstance(item, (str, bytes, bool)):
            return None, f"the job returned {value!r}, not a number (the objective must be a float)"
        try:
            number = float(item)
        except (TypeError, ValueError):
            return None, f"the job returned {value!r}, not a number (the objective must be a float)"
        if math.isnan(number):
            return None, f"the job returned NaN ({value!r})"
        values.append(number)
    return values, None


def _tell(study: optuna.Study, trial: optuna.Trial, values: list[float] | None, state: Any) -> None:
    try:
        study.tell(trial, values, state=state, skip_if_finished=True)
    except RuntimeError as exc:
        # GridSampler calls study.stop() once the grid is done, which only works inside optimize();
        # the trial is stored before that.
        if "Study.stop" not in str(exc):
            raise


def _retry_trials_of_dead_sweepers(study: optuna.Study) -> list[int]:
    """RUNNING trials whose sweeper process on this host is gone: told FAIL, and their parameters
    queued again (asked before any new point). Returns their numbers."""
    from optuna.trial import TrialState

    retried = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = frozen.user_attrs
        if attrs.get("sweeper_host") != HOST or process_alive(int(attrs.get("sweeper_pid", 0)) or os.getpid()):
            continue
        study._storage.set_trial_user_attr(frozen._trial_id, "fail_reason", "its sweep process died")
        study._storage.set_trial_state_values(frozen._trial_id, TrialState.FAIL)
        study.enqueue_trial(frozen.params, user_attrs={"retry_of": frozen.number}, skip_if_exists=False)
        retried.append(frozen.number)
    return retried


def _fail_all(study: optuna.Study, trials: Sequence[optuna.Trial], reason: str) -> None:
    from optuna.trial import TrialState

    for trial in trials:
        try:
            trial.set_user_attr("fail_reason", reason[:2000])
            _tell(study, trial, None, TrialState.FAIL)
        except Exception:  # never hide the original error
            log.exception("could not mark trial %d as failed", trial.number)


def _check_compatible(study: optuna.Study, space: SearchSpace) -> None:
    """A clear error when the study's earlier trials used an incompatible distribution."""
    from optuna.distributions import check_distribution_compatibility

    seen: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        for name, dist in trial.distributions.items():
            seen.setdefault(name, dist)
    for name, dist in space.distributions.items():
        old = seen.get(name)
        if old is None or old == dist:
            continue
        try:
            check_distribution_compatibility(old, dist)
        except ValueError as exc:
            raise ValueError(
                f"Study '{study.study_name}' already has trials with {name} ~ {old}; the sweep asks for "
                f"{dist} ({exc}). Use another hydra.sweeper.study_name (or null for a derived one)."
            ) from None
        log.warning("Study '%s': %s was %s in earlier trials, now %s", study.study_name, name, old, dist)


def _get_custom_search_space(path: str | None) -> Any:
    if not path:
        return None
    from hydra.utils import get_method

    return get_method(path)


def _describe_storage(storage: Any) -> str:
    if storage is None:
        return "memory (storage: null)"
    if isinstance(storage, str):
        try:
            from sqlalchemy.engine import make_url

            return make_url(storage).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001  (only for display)
            return storage
    return type(storage).__name__


def _params_text(trial: optuna.Trial) -> str:
    return ", ".join(f"{k}={v}" for k, v in trial.params.items()) or "no params"


def _plain(value: Any) -> Any:
    """Results as YAML-friendly builtins (numpy scalars, tuples...)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
