"""Content-addressed stage outputs.

An entry lives at ``<cache_dir>/<stage>/<key>/`` and is complete exactly when its
``manifest.json`` exists. A stage writes into a private temporary folder next to it; the runner
writes the manifest last and renames the folder into place, so readers never see half an entry.
A per-key file lock makes concurrent jobs of a sweep wait for one computation instead of racing.

Before an entry is used it is checked (:func:`entry_problem`): every table the manifest lists
exists with its size and content digest, every listed file exists, and a model folder holds each
file with its size. A damaged or tampered entry is moved aside (``.<key>.bad-<time>``, kept for a
look) and recomputed. Staging folders are named by host and pid, so a later job on the same host
removes those of processes that are gone (a SIGKILL leaves them behind).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from omegaconf import OmegaConf

from int_exp.pipeline import threads
from int_exp.pipeline.processes import HOST, process_alive
from int_exp.pipeline.stage import MANIFEST, StageOutput

log = logging.getLogger("int_exp.cache")


def config_subset(cfg: Any, keys: list[str]) -> dict[str, Any]:
    """The resolved values of ``keys`` (dotted paths), missing keys mapped to None."""
    subset: dict[str, Any] = {}
    for key in keys:
        value = OmegaConf.select(cfg, key, default=None)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        subset[key] = value
    return subset


def cache_key(stage: str, version: str, subset: dict[str, Any], input_keys: dict[str, str],
              files: dict[str, str] | None = None) -> str:
    """sha256 over stage name, version, the config subset it reads, its inputs' keys and the
    content fingerprints of the local files it names (:mod:`.fingerprint`; none: the key is what
    it was before fingerprints existed)."""
    content = {"stage": stage, "version": version, "config": subset, "inputs": input_keys}
    if files:
        content["files"] = files
    payload = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def folder_sizes(folder: Path) -> dict[str, int]:
    """``{relative path: bytes}`` of every file under ``folder`` (what an entry's model holds)."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def entry_problem(folder: Path) -> str | None:
    """Why the complete entry at ``folder`` cannot be used (missing, truncated or changed files),
    or None when it is whole."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return f"its manifest cannot be read ({e})"
    for name, info in manifest.get("tables", {}).items():
        path = folder / info["file"]
        if not path.is_file():
            return f"table {name!r} ({info['file']}) is missing"
        if "bytes" in info and path.stat().st_size != info["bytes"]:
            return f"table {name!r} has {path.stat().st_size} bytes, the manifest says {info['bytes']}"
        if info.get("digest") and file_digest(path) != info["digest"]:
            return f"table {name!r} does not match its manifest digest {info['digest']} (changed after it was written)"
    for name in manifest.get("files", []):
        if not (folder / name).exists():
            return f"file {name!r} is missing"
    model = manifest.get("model")
    if model and not model.get("external"):
        model_dir = folder / model["path"]
        if not model_dir.is_dir():
            return f"its model folder {model['path']!r} is missing"
        for name, size in model.get("files", {}).items():
            path = model_dir / name
            if not path.is_file() or path.stat().st_size != size:
                return f"model file {name!r} is missing or changed size"
    return None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class Cache:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def is_complete(self, stage: str, key: str) -> bool:
        return (self.entry(stage, key) / MANIFEST).exists()

    def usable(self, stage: str, key: str) -> bool:
        """Complete and whole; a damaged complete entry is moved aside (and logged) first."""
        if not self.is_complete(stage, key):
            return False
        problem = entry_problem(self.entry(stage, key))
        if problem is None:
            return True
        aside = self.root / stage / f".{key}.bad-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        log.warning("cache entry %s/%s is damaged: %s; moved to %s and recomputed", stage, key, problem, aside.name)
        with contextlib.suppress(OSError):
            os.rename(self.entry(stage, key), aside)
        return False

    def remove_dead_staging(self) -> list[Path]:
        """Remove staging folders this host's dead processes left behind (after a SIGKILL)."""
        removed = []
        for tmp in self.root.glob(f"*/.*.{HOST}.*.tmp"):
            parts = tmp.name.split(".")
            try:
                pid = int(parts[-3])
            except (IndexError, ValueError):
                continue
            if parts[-4] == HOST and not process_alive(pid):
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
        if removed:
            log.info("removed %d staging folder(s) of dead processes: %s", len(removed), [p.name for p in removed])
        return removed

    @contextlib.contextmanager
    def lock(self, stage: str, key: str) -> Iterator[None]:
        folder = self.root / stage
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder / f"{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:  # another job computes this entry: wait without holding a share of the cores
            with threads.waiting(threads.registry()):
                lock.acquire()
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def staging(self, stage: str, key: str) -> Iterator[Path]:
        """A private folder for a stage to write into; removed unless committed."""
        tmp = self.root / stage / f".{key}.{HOST}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir(parents=True)
        try:
            yield tmp
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def commit(self, stage: str, key: str, staged: Path, manifest: dict[str, Any]) -> Path:
        """Write the manifest last, then move the staged folder into place atomically."""
        write_json_atomic(staged / MANIFEST, manifest)
        final = self.entry(stage, key)
        if final.exists() and not (final / MANIFEST).exists():
            shutil.rmtree(final)  # debris of a crash between rename attempts
        try:
            os.rename(staged, final)
        except OSError:
            if not (final / MANIFEST).exists():
                raise  # someone else's complete entry is fine; anything else is not
        return final


def write_outputs(output: StageOutput, out_dir) -> dict[str, Any]:
    """Persist a stage's tables and describe everything in the manifest."""
    tables = {}
    for name, df in output.tables.items():
        path = out_dir / f"{name}.parquet"
        df.to_parquet(path, index=False)
        tables[name] = {"file": path.name, "rows": len(df), "columns": list(df.columns), "digest": file_digest(path),
                        "bytes": path.stat().st_size}
    manifest: dict[str, Any] = {
        "tables": tables,
        "metrics": {k: float(v) for k, v in output.metrics.items()},
        "files": [str(f) for f in output.files],
        "summary": output.summary,
    }
    if output.model is not None:
        manifest["model"] = {"path": output.model, "external": output.model_is_external}
        if not output.model_is_external and (out_dir / output.model).is_dir():
            manifest["model"]["files"] = folder_sizes(out_dir / output.model)
    return manifest
