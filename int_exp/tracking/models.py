"""Checkpoints as MLflow 3 LoggedModels, and ``models:/`` URIs back to local folders.

Every model a job makes (the base model a builtin builds, each SFT and RL checkpoint) is a
LoggedModel of the stage run that made it: named ``<variant>-<stage>`` (``base-<model>`` for the
base model), with the stage's config subset as params, its cache key, stage, variant and seed as
tags, and its training tables as the run's dataset inputs. Its files are logged with it when they
fit ``tracking.checkpoint_artifact_max_mb``; otherwise it is an external model whose ``checkpoint``
tag names the cache entry (the files are never copied twice). One LoggedModel per cache entry and
experiment: a cache hit finds the model by its ``cache_key`` tag instead of logging another.

An evaluation stage's pass@k is logged against the model it evaluated (``model_id``, with the
evaluation set's name and a digest of its problems), so ``mlflow.search_logged_models`` ranks
checkpoints by ``metrics.<set>/pass_at_1``.

``model.name_or_path=models:/NAME/VERSION`` (or ``models:/m-<id>``) resolves to a local folder:
an external model's cache entry, else the model's files downloaded once into
``<paths.cache_dir>/mlflow-models/<id>`` and checked against the recorded digest; from there the
folder enters cache keys by content like any local model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_URI_PREFIX = "models:/"
DOWNLOADS = "mlflow-models"  # under paths.cache_dir
EXTERNAL_TAG = "mlflow.model.isExternal"  # MLflow's own marker (create_external_model sets it)
# Our tags on a LoggedModel: where its files are ("mlflow"; external: "local", a folder on this
# machine such as our cache entry, or "hub"), that folder or hub id, and the folder's digest.
FILES_TAG, CHECKPOINT_TAG, DIGEST_TAG = "files", "checkpoint", "digest"
_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")


def is_model_uri(text: str) -> bool:
    return str(text).startswith(MODEL_URI_PREFIX)


def model_name(stage: str, variant: str, base_name: str) -> str:
    """A LoggedModel's name (MLflow forbids ``/:.%"'``).

    >>> model_name("rl", "rl_only", "tiny"), model_name("model", "int", "sandbox")
    ('rl_only-rl', 'base-sandbox')
    """
    name = f"base-{base_name or stage}" if stage == "model" else f"{variant or 'job'}-{stage}"
    return re.sub(r"[/:.%\"']", "_", name)


def folder_digest(path: Path, cache_root: Path) -> str:
    """The content fingerprint the cache keys use (file digests remembered in the cache's memo)."""
    from int_exp.pipeline.fingerprint import DigestMemo, path_fingerprint

    memo = DigestMemo.at(cache_root)
    digest = path_fingerprint(path, memo)
    memo.save()
    return digest


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def problems_digest(table) -> str:
    """What an evaluation set's metrics are linked to: a digest of its problem ids and answers
    (the same for every model evaluated on the set, unlike the table of completions).

    >>> import pandas as pd
    >>> problems_digest(pd.DataFrame({"problem_id": ["b", "a"], "answer": ["2", "1"]}))
    'ddc7523b594d0dff'
    """
    pairs = sorted(zip(map(str, table["problem_id"]), map(str, table["answer"])))
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]


PASS_AT = re.compile(r"^(?P<dataset>[^/]+)/pass_at_\d+$")


def evaluation_metrics(result) -> list[tuple[str, float, str, str]]:
    """``(key, value, dataset name, dataset digest)`` of a stage's evaluation metrics: those under an
    output table's name that has ``pass_at_<k>`` (``arith/...``), or ``<stage>/<table>/...``
    (sft_eval's), the stage prefix dropped so every checkpoint's metric has one name."""
    import pandas as pd

    tables = result.manifest.get("tables", {})
    linked = []
    for prefix in ("", f"{result.stage}/"):
        keys = [k[len(prefix):] for k in result.metrics if k.startswith(prefix)]
        for dataset in sorted({m["dataset"] for k in keys if (m := PASS_AT.match(k)) and m["dataset"] in tables}):
            frame = pd.read_parquet(result.dir / tables[dataset]["file"], columns=["problem_id", "answer"])
            digest = problems_digest(frame)
            linked += [(key, float(result.metrics[prefix + key]), dataset, digest)
                       for key in keys if key.startswith(dataset + "/")]
    return linked


# -- logging ---------------------------------------------------------------------------------
def find_model(client, experiment_id: str, cache_key: str):
    """The READY LoggedModel of this experiment made from cache entry ``cache_key``, if any."""
    from mlflow.entities import LoggedModelStatus

    found = client.search_logged_models([experiment_id], filter_string=f"tags.cache_key = '{cache_key}'",
                                        max_results=20)
    return next((model for model in found if model.status == LoggedModelStatus.READY), None)


def log_stage_model(client, experiment_id: str, run_id: str, result, *, name: str, params: dict[str, str],
                    tags: dict[str, str], max_mb: float, cache_root: Path) -> str:
    """The LoggedModel of ``result``'s checkpoint (found, or created with files or as external),
    recorded as an output of the stage run ``run_id``; its id."""
    from mlflow.entities import LoggedModelOutput

    model = find_model(client, experiment_id, result.key)
    if model is None:
        model = create_stage_model(client, experiment_id, run_id, result, name=name, params=params, tags=tags,
                                   max_mb=max_mb, cache_root=cache_root)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return model.model_id


def create_stage_model(client, experiment_id: str, run_id: str, result, *, name: str, params: dict[str, str],
                       tags: dict[str, str], max_mb: float, cache_root: Path):
    info = result.manifest["model"]
    path = Path(result.model_path)
    tags = {**tags, "cache_key": result.key, "stage": result.stage, CHECKPOINT_TAG: str(path)}
    local = path.is_dir()
    if local:
        size = folder_mb(path)
        tags.update({DIGEST_TAG: folder_digest(path, cache_root), "size_mb": f"{size:.1f}"})
    small = local and not info["external"] and size <= max_mb
    tags[FILES_TAG] = "mlflow" if small else ("local" if local else "hub")
    if not small:
        tags[EXTERNAL_TAG] = "true"
    model = client.create_logged_model(experiment_id, name=name, source_run_id=run_id, tags=tags,
                                       params=params)
    try:
        if small:
            client.log_model_artifacts(model.model_id, str(path))
        else:
            write_external_spec(client, model)
    except BaseException:
        client.finalize_logged_model(model.model_id, "FAILED")
        raise
    return client.finalize_logged_model(model.model_id, "READY")


def write_external_spec(client, model) -> None:
    """What ``mlflow.create_external_model`` writes: an ``MLmodel`` that says the files are elsewhere
    (the Model Registry needs one), and a note naming the folder."""
    import tempfile

    from mlflow.models.utils import get_external_mlflow_model_spec

    with tempfile.TemporaryDirectory() as tmp:
        get_external_mlflow_model_spec(model).save(str(Path(tmp) / "MLmodel"))
        note = {k: model.tags.get(k) for k in (CHECKPOINT_TAG, DIGEST_TAG, "cache_key", "size_mb")}
        (Path(tmp) / "checkpoint_reference.json").write_text(json.dumps(note, indent=1) + "\n")
        client.log_model_artifacts(model.model_id, tmp)


def link_metrics(client, run_id: str, model_id: str, metrics: list[tuple[str, float, str, str]]) -> None:
    from mlflow.entities import LoggedModelInput, Metric

    now = int(time.time() * 1000)
    items = [Metric(key, value, now, 0, model_id=model_id, dataset_name=name, dataset_digest=digest)
             for key, value, name, digest in metrics]
    for start in range(0, len(items), 500):
        client.log_batch(run_id, metrics=items[start : start + 500])
    client.log_inputs(run_id, models=[LoggedModelInput(model_id)])


# -- models:/ URIs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedModel:
    uri: str  # as written: models:/NAME/VERSION or models:/m-<id>
    model_id: str
    path: str  # the local folder (or hub id) the job loads


def model_id_of(client, uri: str) -> str:
    """``models:/m-<id>`` -> its id; ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS`` -> the
    LoggedModel the registered version was made from."""
    rest = uri[len(MODEL_URI_PREFIX):].strip("/")
    if _MODEL_ID.match(rest):
        return rest
    if "@" in rest:
        name, alias = rest.split("@", 1)
        version = client.get_model_version_by_alias(name, alias)
    elif rest.count("/") == 1:
        version = client.get_model_version(*rest.split("/"))
    else:
        raise ValueError(f"model.name_or_path={uri}: expected models:/NAME/VERSION, models:/NAME@ALIAS or "
                         "models:/m-<id>")
    model_id = getattr(version, "model_id", None) or str(version.source)[len(MODEL_URI_PREFIX):]
    if not _MODEL_ID.match(model_id):
        raise ValueError(f"{uri}: registered version {version.version} comes from {version.source}, not from a "
                         "LoggedModel (models:/m-<id>); only LoggedModels can start a job")
    return model_id


def resolve_model_uri(uri: str, tracking_uri: str, cache_dir: str | Path) -> ResolvedModel:
    """The local folder of a registered or logged model (see the module's docstring)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    model_id = model_id_of(client, uri)
    model = client.get_logged_model(model_id)
    tags = model.tags
    if tags.get(FILES_TAG) == "hub":
        return ResolvedModel(uri, model_id, tags[CHECKPOINT_TAG])
    if tags.get(EXTERNAL_TAG) == "true":
        path = Path(tags.get(CHECKPOINT_TAG, ""))
        if not path.is_dir():
            raise FileNotFoundError(f"{uri} ({model_id}) is an external model whose checkpoint {path} is gone "
                                    "(a cleared cache?); recompute it, or log it with its files")
        check_digest(uri, path, tags, Path(cache_dir))
        return ResolvedModel(uri, model_id, str(path))
    return ResolvedModel(uri, model_id, str(download(model, Path(cache_dir), uri)))


def check_digest(uri: str, path: Path, tags: dict[str, str], cache_root: Path) -> None:
    if DIGEST_TAG in tags and (found := folder_digest(path, cache_root)) != tags[DIGEST_TAG]:
        raise ValueError(f"{uri}: the files at {path} have digest {found}, the model was logged with "
                         f"{tags[DIGEST_TAG]}: not the same weights")


def download(model, cache_root: Path, uri: str) -> Path:
    """The model's files in ``<cache>/mlflow-models/<id>``: downloaded once (under a lock, into a
    staging folder renamed when complete and checked), then reused."""
    import mlflow.artifacts
    from filelock import FileLock

    target = cache_root / DOWNLOADS / model.model_id
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=3600):
        if target.is_dir():
            return target
        staging = target.with_name(f".{model.model_id}.{uuid.uuid4().hex[:8]}")
        try:
            log.info("downloading %s (%s) into %s", uri, model.model_id, target)
            mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, dst_path=str(staging))
            files = staging / Path(model.artifact_location.rstrip("/")).name
            files = files if files.is_dir() else staging
            check_digest(uri, files, model.tags, cache_root)
            files.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target
