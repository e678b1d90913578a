"""Content-addressed stage outputs.

An entry lives at ``<cache_dir>/<stage>/<key>/`` and is complete exactly when its
``manifest.json`` exists. A stage writes into a private temporary folder next to it; the runner
writes the manifest last and renames the folder into place, so readers never see half an entry.
A per-key file lock makes concurrent jobs of a sweep wait for one computation instead of racing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock
from omegaconf import OmegaConf

from int_exp.pipeline.stage import MANIFEST


def config_subset(cfg: Any, keys: list[str]) -> dict[str, Any]:
    """The resolved values of ``keys`` (dotted paths), missing keys mapped to None."""
    subset: dict[str, Any] = {}
    for key in keys:
        value = OmegaConf.select(cfg, key, default=None)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        subset[key] = value
    return subset


def cache_key(stage: str, version: str, subset: dict[str, Any], input_keys: dict[str, str]) -> str:
    """sha256 over stage name, version, the config subset it reads and its inputs' keys."""
    payload = json.dumps(
        {"stage": stage, "version": version, "config": subset, "inputs": input_keys},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


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

    @contextlib.contextmanager
    def lock(self, stage: str, key: str) -> Iterator[None]:
        folder = self.root / stage
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / f"{key}.lock")):
            yield

    @contextlib.contextmanager
    def staging(self, stage: str, key: str) -> Iterator[Path]:
        """A private folder for a stage to write into; removed unless committed."""
        tmp = self.root / stage / f".{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
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
