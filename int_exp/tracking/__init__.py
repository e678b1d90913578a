"""Everything a job records in MLflow (this package and report/ are its only callers).

One parent run per job (nested under a sweep or trial run when there is one), one nested run per
stage tagged ``stage``, ``cache_key`` and ``cache_hit``. Runs are driven through ``MlflowClient``
with explicit run ids rather than MLflow's global "active run", so nothing else in the process
(trainers, libraries) can log into the wrong run, and sweeps in other processes can attach to a
parent by id. A stage's checkpoint is an MLflow LoggedModel of its run, and an evaluation's pass@k is
linked to the model it measured (:mod:`int_exp.tracking.models`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from int_exp.runtime.processes import HOST, process_alive

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000  # MLflow 3 limit on a param value


def model_params(config: dict[str, Any]) -> dict[str, str]:
    """A stage's config subset as a LoggedModel's params (dotted keys, text)."""
    return {key: str(value)[:MAX_PARAM_LENGTH] for key, value in flatten(config).items()}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys; lists stay as their JSON text."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.dumps(data) if isinstance(data, (list, tuple)) else data}


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """A file lock beside a sqlite store while it is opened: concurrent jobs on a fresh store
    would otherwise race to create its tables ("table runs already exists")."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    from filelock import FileLock

    with FileLock(str(Path(uri[len("sqlite:///"):]).resolve()) + ".lock", timeout=300):
        yield


def check_server(uri: str, timeout: float) -> None:
    """An http(s) tracking server must answer ``/health`` within ``timeout`` seconds (MLflow's
    client would retry for minutes before saying anything)."""
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:
        return  # it answered (a proxy or an older server without /health)
    except (OSError, ValueError) as e:
        raise ConnectionError(f"tracking.uri={uri}: no MLflow server answered within {timeout:.0f} s ({e}); "
                              "start one (mlflow server ...) or set tracking.uri to a sqlite:/// store") from e


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (query string dropped), else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):].split("?", 1)[0])


def sqlite_folder_problem(uri: str, create: bool) -> str | None:
    """A sqlite store whose folder does not exist is a mistake (a typo, an unmounted disk) unless
    ``tracking.create=true`` asks for it: MLflow would make the folder and a new store there."""
    path = sqlite_path(uri)
    if path is None or create or path.parent.is_dir():
        return None
    what = "is not a folder" if path.parent.exists() else "does not exist"
    return (f"tracking.uri={uri}: the store's folder {path.parent} {what}; create it, or set "
            "tracking.create=true to have it created")


def prepare_sqlite_folder(uri: str, create: bool) -> None:
    problem = sqlite_folder_problem(uri, create)
    if problem:
        raise FileNotFoundError(problem)
    if (path := sqlite_path(uri)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def table_for_mlflow(df):
    """MLflow infers a schema from the frame: nested values go as JSON text."""
    df = df.copy()
    for column in df.columns:
        if df[column].map(lambda v: isinstance(v, (dict, list, tuple)) or hasattr(v, "tolist")).any():
            df[column] = df[column].map(
                lambda v: json.dumps(v.tolist() if hasattr(v, "tolist") else v, default=str)
            )
    return df


class StageRun:
    """Logging handle for one stage's nested run."""

    def __init__(self, tracker: MlflowTracker, run_id: str):
        self.tracker, self.run_id = tracker, run_id

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.tracker.log_metrics(self.run_id, metrics, step)

    def finish(self, result, inputs: dict | None = None) -> None:
        """Log what a finished (or cached) stage produced from ``inputs`` (upstream results by role):
        its model as a LoggedModel, or its evaluation metrics linked to the model it evaluated."""
        client = self.tracker.client
        client.set_tag(self.run_id, "cache_hit", str(result.cache_hit).lower())
        client.set_tag(self.run_id, "cache_dir", str(result.dir))
        self.tracker.log_params(self.run_id, flatten(result.manifest.get("config", {})))
        for name, info in result.manifest.get("tables", {}).items():
            self.tracker.log_table(self.run_id, result.table(name), f"{result.stage}/{name}", info["digest"])
        inputs = inputs or {}
        if "model" in result.manifest:
            self.tracker.log_model(self.run_id, result, inputs)
        linked = self.tracker.link_evaluation(self.run_id, result, inputs)  # logged with the model's id
        self.log_metrics({k: v for k, v in result.metrics.items() if k not in linked})
        self.log_metrics({"stage_seconds": result.manifest.get("seconds", 0.0)})
        # A published set that stood in for a stage's output (failures.source, ...): named on the
        # stage's run and on the job's, so a result can be traced to the data it came from.
        lineage = {f"lineage.{k}": v for k, v in result.manifest.get("summary", {}).get("lineage", {}).items()}
        for run_id in (self.run_id, None):
            self.tracker.set_tags(run_id, lineage)
        for path in result.files:
            client.log_artifact(self.run_id, str(path))


EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


class MlflowTracker:
    def __init__(self, tracking_cfg: Any):
        import mlflow
        from mlflow import MlflowClient

        self.cfg = tracking_cfg
        prepare_sqlite_folder(tracking_cfg.uri, bool(getattr(tracking_cfg, "create", False)))
        check_server(tracking_cfg.uri, float(getattr(tracking_cfg, "connect_timeout_s", 10.0)))
        mlflow.set_tracking_uri(tracking_cfg.uri)
        with store_lock(tracking_cfg.uri):  # a fresh sqlite store: one job creates and migrates it
            self.client = MlflowClient(tracking_cfg.uri)
            self.client.search_experiments(max_results=1)
            self.experiment_id = self._experiment(tracking_cfg.experiment)
        self.parent_run_id: str | None = None
        self.job_facts: dict[str, str] = {}  # variant, seed, base model name: tags of the job's models
        self.cache_root = Path(".")
        self.models: dict[str, str] = {}  # cache key -> LoggedModel id, for this job's checkpoints
        self.input_model = None  # the ResolvedModel of a models:/ URI the job starts from
        self.closed_at_start = self.close_orphaned_runs()

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            experiment_id = self._create_experiment(name)
        elif EXPERIMENT_KIND[0] in found.tags:
            return found.experiment_id
        else:
            experiment_id = found.experiment_id
        # MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, prompts);
        # ours are model training: runs, metrics, charts.
        self.client.set_experiment_tag(experiment_id, *EXPERIMENT_KIND)
        return experiment_id

    def _create_experiment(self, name: str) -> str:
        location = None
        if is_local_store(self.cfg.uri):
            root = Path(self.cfg.artifact_root).resolve()
            root.mkdir(parents=True, exist_ok=True)
            location = root.as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except Exception:  # noqa: BLE001 - created concurrently by another job of the sweep
            return self.client.get_experiment_by_name(name).experiment_id

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, name: str | None, parent_id: str | None, tags: dict[str, str]) -> str:
        all_tags = {"host": HOST, "pid": str(os.getpid()), **tags}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        return self.client.create_run(self.experiment_id, tags=all_tags, run_name=name).info.run_id

    def end_run(self, run_id: str, error: BaseException | None) -> None:
        """FINISHED; KILLED for Ctrl-C or SIGTERM (the signal as tag); FAILED with the error."""
        if isinstance(error, KeyboardInterrupt):
            self.client.set_tag(run_id, "signal", getattr(error, "signal_name", "SIGINT"))
            self.client.set_terminated(run_id, status="KILLED")
            return
        if error is not None:
            text = "".join(traceback.format_exception(error))
            self.client.set_tag(run_id, "error", f"{type(error).__name__}: {error}"[:5000])
            self.client.log_text(run_id, text, "error.txt")
        self.client.set_terminated(run_id, status="FAILED" if error is not None else "FINISHED")

    def close_orphaned_runs(self) -> list[str]:
        """End as KILLED the RUNNING runs of this experiment whose process on this host is gone
        (a job killed with SIGKILL cannot end its own runs)."""
        closed = []
        query = f"attributes.status = 'RUNNING' and tags.host = '{HOST}'"
        for run in self.client.search_runs([self.experiment_id], query, max_results=1000):
            pid = run.data.tags.get("pid", "")
            if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
                self.client.set_tag(run.info.run_id, "signal", "process gone (closed by a later job)")
                self.client.set_terminated(run.info.run_id, status="KILLED")
                closed.append(run.info.run_id)
        if closed:
            log.warning("closed %d MLflow run(s) left RUNNING by dead processes on %s", len(closed), HOST)
        return closed

    @contextlib.contextmanager
    def run(self, name: str | None, parent_id: str | None, tags: dict[str, str]) -> Iterator[str]:
        """A run that ends FINISHED, or FAILED with the error as tag and artifact."""
        run_id = self.start_run(name, parent_id, tags)
        try:
            yield run_id
        except BaseException as error:
            self.end_run(run_id, error)
            raise
        self.end_run(run_id, None)

    @contextlib.contextmanager
    def job(self, cfg: DictConfig, tags: dict[str, str], params: dict[str, Any]) -> Iterator[str]:
        with self.run(self.cfg.run_name, self.cfg.parent_run_id, tags) as run_id:
            self.parent_run_id = run_id
            resolved = OmegaConf.to_container(cfg, resolve=True)
            self.log_params(run_id, {**flatten(resolved), **params})
            self.client.log_text(run_id, OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
            self.job_facts = {key: str(OmegaConf.select(cfg, path, default=""))
                              for key, path in (("variant", "variant.name"), ("seed", "seed"), ("base", "model.name"))}
            self.cache_root = Path(OmegaConf.select(cfg, "paths.cache_dir", default="."))
            if self.input_model is not None:  # started from models:/...: the model is the job's input
                from mlflow.entities import LoggedModelInput

                self.client.log_inputs(run_id, models=[LoggedModelInput(self.input_model.model_id)])
                self.set_tags(run_id, {"model_uri": self.input_model.uri, "model_id": self.input_model.model_id})
            yield run_id

    @contextlib.contextmanager
    def stage(self, name: str, key: str) -> Iterator[StageRun]:
        tags = {"stage": name, "cache_key": key, "run_kind": "stage",
                "mlflow.note.content": f"stage {name} (cache key {key})"}
        with self.run(name, self.parent_run_id, tags) as run_id:
            yield StageRun(self, run_id)

    # -- values -----------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in sorted(params.items())]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str | None, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        run_id = run_id or self.parent_run_id
        now = int(time.time() * 1000)
        items = [
            Metric(key.replace("@", "_at_"), float(value), now, step or 0)
            for key, value in metrics.items()
            if isinstance(value, (int, float)) and math.isfinite(float(value))
        ]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start : start + 500])

    def log_table(self, run_id: str, df, name: str, digest: str) -> None:
        """Log a stage table as an MLflow dataset input, digested by our content hash."""
        import mlflow.data
        from mlflow.entities import DatasetInput, InputTag

        # The schema is inferred when the entity is built; its hints about int columns are noise here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(table_for_mlflow(df), name=name, digest=digest)
            entity = dataset._to_mlflow_entity()
        tags = [InputTag(key="mlflow.data.context", value=name.split("/")[0])]
        self.client.log_inputs(run_id, datasets=[DatasetInput(entity, tags=tags)])

    def use_model(self, resolved) -> None:
        """The job starts from a registered or logged model (:func:`int_exp.tracking.models.resolve_model_uri`)."""
        self.input_model = resolved

    def log_model(self, run_id: str, result, inputs: dict) -> None:
        """The stage's checkpoint as a LoggedModel of its run (int_exp/tracking/models.py)."""
        from mlflow.entities import LoggedModelInput

        from int_exp.tracking.models import log_stage_model, model_name

        path = result.model_path
        self.client.set_tag(run_id, "checkpoint", path)
        if self.input_model is not None and result.manifest["model"]["external"] and path == self.input_model.path:
            model_id = self.input_model.model_id  # not made here: the model the job was started from
            self.client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
        else:
            facts = self.job_facts
            datasets = self.log_training_data(run_id, inputs)
            tags = {"variant": facts.get("variant", ""), "seed": facts.get("seed", ""), "datasets": json.dumps(datasets)}
            model_id = log_stage_model(self.client, self.experiment_id, run_id, result,
                                       name=model_name(result.stage, facts.get("variant", ""), facts.get("base", "")),
                                       params=model_params(result.manifest.get("config", {})), tags=tags,
                                       max_mb=float(self.cfg.checkpoint_artifact_max_mb), cache_root=self.cache_root)
        self.models[result.key] = model_id
        self.client.set_tag(run_id, "model_id", model_id)

    def log_training_data(self, run_id: str, inputs: dict) -> list[str]:
        """The tables a training stage read (its non-model inputs), as the run's dataset inputs
        (context ``training``), by the names and digests their own stages logged them under."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        entities, names = [], []
        for upstream in inputs.values():
            if "model" in upstream.manifest:
                continue
            for table, info in upstream.manifest.get("tables", {}).items():
                name = f"{upstream.stage}/{table}"
                source = json.dumps({"uri": str(upstream.dir / info["file"])})
                entities.append(DatasetInput(Dataset(name, info["digest"], "local", source),
                                             tags=[InputTag(key="mlflow.data.context", value="training")]))
                names.append(f"{name}@{info['digest']}")
        if entities:
            self.client.log_inputs(run_id, datasets=entities)
        return names

    def link_evaluation(self, run_id: str, result, inputs: dict) -> set[str]:
        """Log an evaluation stage's pass@k against the model it evaluated (its ``policy`` input);
        the keys logged. The job run is tagged ``evaluated_model_id`` by the stage whose metrics are
        the job's own ``<set>/pass_at_<k>``."""
        from int_exp.tracking.models import evaluation_metrics, link_metrics

        policy = inputs.get("policy")
        model_id = self.models.get(policy.key) if policy is not None and "model" not in result.manifest else None
        if model_id is None:
            return set()
        metrics = evaluation_metrics(result)
        if not metrics:
            return set()
        link_metrics(self.client, run_id, model_id, metrics)
        same_name = {key for key, *_ in metrics if key in result.metrics}
        if same_name:
            self.set_tags(None, {"evaluated_model_id": model_id})
        return same_name

    def log_artifact(self, run_id: str | None, path: Path) -> None:
        self.client.log_artifact(run_id or self.parent_run_id, str(path))

    def set_tags(self, run_id: str | None, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id or self.parent_run_id, key, str(value))


class NullTracker:
    """``tracking.enabled=false``: same calls, nothing recorded."""

    parent_run_id = None

    @contextlib.contextmanager
    def job(self, cfg, tags, params):
        yield None

    @contextlib.contextmanager
    def stage(self, name, key):
        yield _NullStageRun()

    def log_metrics(self, run_id, metrics, step=None):
        pass

    def log_artifact(self, run_id, path):
        pass

    def set_tags(self, run_id, tags):
        pass

    def use_model(self, resolved):
        pass


class _NullStageRun:
    def log_metrics(self, metrics, step=None):
        pass

    def finish(self, result, inputs=None):
        pass


def make_tracker(tracking_cfg: Any):
    return MlflowTracker(tracking_cfg) if tracking_cfg.enabled else NullTracker()
