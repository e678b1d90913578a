"""Content-addressed stage outputs.

An entry lives at ``<cache_dir>/<stage>/<key>/`` and is complete exactly when its
``manifest.json`` exists. A stage writes into a private temporary folder next to it; the runner
writes the manifest last and renames the folder into place, so readers never see half an entry.
A per-key file lock makes concurrent jobs of a sweep wait for one computation instead of racing.

Before an entry is used it is checked (:func:`entry_problem`): the manifest has the shape written
here, with every path inside the entry; every table, listed file and model file exists with its
size and sha256 digest (remembered per file by :class:`~.fingerprint.DigestMemo`, so an unchanged
file is hashed once). A damaged or tampered entry is moved aside (``.<key>.bad-<time>``, kept for
a look) and recomputed. Entries written before model digests existed are checked by size and then
get their digests recorded (CHANGELOG 2026-12-04). Staging folders are named by host and pid, so a later job on the same host
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

from int_exp.pipeline.fingerprint import DigestMemo, file_digest
from int_exp.pipeline.stage import MANIFEST, StageOutput
from int_exp.runtime import threads
from int_exp.runtime.processes import HOST, process_alive

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


def folder_sizes(folder: Path) -> dict[str, int]:
    """``{relative path: bytes}`` of every file under ``folder`` (what an entry's model holds)."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_digests(folder: Path) -> dict[str, str]:
    """``{relative path: digest}`` of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _outside(relative: str) -> bool:
    """Whether a manifest path leaves its entry (absolute, or ``..`` after normalising)."""
    normal = os.path.normpath(relative)
    return os.path.isabs(normal) or normal == ".." or normal.startswith(".." + os.sep)


def _is_map(value: Any, value_type: type | tuple) -> bool:
    return isinstance(value, dict) and all(isinstance(v, value_type) for v in value.values())


def manifest_shape_problem(manifest: Any, folder: Path) -> str | None:
    """What makes ``manifest`` other than the object :func:`write_outputs` writes (so reading it
    would raise), or a path in it that points outside the entry; None when it has the right shape."""
    if not isinstance(manifest, dict):
        return f"its manifest is a JSON {type(manifest).__name__}, not an object"
    tables, files, model = manifest.get("tables", {}), manifest.get("files", []), manifest.get("model")
    if not _is_map(tables, dict):
        return "its manifest's 'tables' is not an object of table entries"
    paths = []
    for name, info in tables.items():
        if not isinstance(info.get("file"), str):
            return f"table {name!r} has no 'file' in the manifest"
        if not isinstance(info.get("bytes", 0), int) or not isinstance(info.get("digest", ""), str):
            return f"table {name!r} has a 'bytes' or 'digest' of the wrong type in the manifest"
        paths.append((f"table {name!r}", info["file"]))
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return "its manifest's 'files' is not a list of names"
    if not _is_map(manifest.get("file_digests", {}), str) or not _is_map(manifest.get("metrics", {}), (int, float)):
        return "its manifest's 'file_digests' or 'metrics' has the wrong shape"
    paths += [(f"file {name!r}", name) for name in [*files, *manifest.get("file_digests", {})]]
    if model is not None:
        if not isinstance(model, dict) or not isinstance(model.get("path"), str):
            return "its manifest's 'model' has no 'path'"
        if not _is_map(model.get("files", {}), int) or not _is_map(model.get("digests", {}), str):
            return "its manifest's model 'files' or 'digests' has the wrong shape"
        if not model.get("external"):
            paths += [(f"model file {n!r}", os.path.join(model["path"], n)) for n in [*model.get("files", {}), "."]]
    for label, relative in paths:
        if _outside(relative):
            return f"{label} path {relative!r} points outside the entry {folder}"
    return None


def recorded_files(manifest: dict) -> Iterator[tuple[str, str, int | None, str | None]]:
    """(label, path in the entry, bytes, digest) of every file the manifest records."""
    for name, info in manifest.get("tables", {}).items():
        yield f"table {name!r}", info["file"], info.get("bytes"), info.get("digest")
    for name, digest in manifest.get("file_digests", {}).items():
        yield f"file {name!r}", name, None, digest
    model = manifest.get("model")
    if model and not model.get("external"):
        digests = model.get("digests", {})
        for name, size in model.get("files", {}).items():
            yield f"model file {name!r}", f"{model['path']}/{name}", size, digests.get(name)


def undigested(manifest: dict) -> bool:
    """Whether the manifest predates digests of every file (tables before ~2026-11, models before
    2026-12-04): such entries are verified by size, then their digests recorded."""
    model = manifest.get("model") or {}
    return (any("digest" not in info for info in manifest.get("tables", {}).values())
            or (not model.get("external") and bool(model.get("files")) and "digests" not in model))


def record_digests(folder: Path, manifest: dict, digests: DigestMemo) -> None:
    """Add the missing digests to an entry written before they existed (see :func:`undigested`)."""
    for info in manifest.get("tables", {}).values():
        info.setdefault("digest", digests.digest(folder / info["file"]))
        info.setdefault("bytes", (folder / info["file"]).stat().st_size)
    model = manifest.get("model") or {}
    if not model.get("external") and model.get("files"):
        model.setdefault("digests", {n: digests.digest(folder / model["path"] / n) for n in model["files"]})
    write_json_atomic(folder / MANIFEST, manifest)


def entry_problem(folder: Path, digests: DigestMemo | None = None) -> str | None:
    """Why the complete entry at ``folder`` cannot be used (a manifest of the wrong shape, a path
    outside the entry, missing, truncated or changed files), or None when it is whole."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as e:
        return f"its manifest cannot be read ({e})"
    problem = manifest_shape_problem(manifest, folder)
    if problem:
        return problem
    model = manifest.get("model")
    if model and not model.get("external") and not (folder / model["path"]).is_dir():
        return f"its model folder {model['path']!r} is missing"
    digests = digests or DigestMemo.at(folder.parent.parent)
    for label, relative, size, digest in recorded_files(manifest):
        path = folder / relative
        if not path.is_file():
            return f"{label} ({relative}) is missing"
        if size is not None and path.stat().st_size != size:
            return f"{label} ({relative}) has {path.stat().st_size} bytes, the manifest says {size}"
        if digest and digests.digest(path) != digest:
            return f"{label} ({relative}) does not match its manifest digest {digest} (changed after it was written)"
    for name in manifest.get("files", []):
        if not (folder / name).exists():
            return f"file {name!r} is missing"
    return None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class Cache:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.digests = DigestMemo.at(self.root)

    def entry(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def is_complete(self, stage: str, key: str) -> bool:
        return (self.entry(stage, key) / MANIFEST).exists()

    def usable(self, stage: str, key: str) -> bool:
        """Complete and whole, every recorded file checked against its digest; a damaged complete
        entry is moved aside (and logged) first. An entry from before digests gets them recorded."""
        if not self.is_complete(stage, key):
            return False
        entry = self.entry(stage, key)
        problem = entry_problem(entry, self.digests)
        if problem is None:
            self._record_missing_digests(entry)
            self.digests.save()
            return True
        aside = self.root / stage / f".{key}.bad-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        log.warning("cache entry %s/%s is damaged: %s; moved to %s and recomputed", stage, key, problem, aside.name)
        with contextlib.suppress(OSError):
            os.rename(entry, aside)
        return False

    def _record_missing_digests(self, entry: Path) -> None:
        manifest = json.loads((entry / MANIFEST).read_text())
        if not undigested(manifest):
            return
        try:
            record_digests(entry, manifest, self.digests)
            log.info("cache entry %s: digests recorded (written before they existed; checked by size)", entry)
        except OSError as e:  # a read-only cache: checked by size again next time
            log.debug("cache entry %s: digests not recorded (%s)", entry, e)

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
            manifest["model"]["digests"] = folder_digests(out_dir / output.model)
    digested = [f for f in manifest["files"] if (out_dir / f).is_file()]
    manifest["file_digests"] = {f: file_digest(out_dir / f) for f in digested}
    return manifest
