"""Content fingerprints of the local files and folders a stage's settings name.

A cache key built from ``data.train.source=problems.jsonl`` alone would serve old rows after the
file is edited; so would a key built from a local ``model.name_or_path``. Every string in a
stage's config subset that names an existing local file or folder therefore adds the sha256 of
its contents (a folder: of every file in it, by relative path) to the key. Hub ids, builtin
names (``builtin:...``, ``arith``) and URLs name nothing on disk and keep their text only.

Each file is hashed once, and the digest remembered on disk by (path, size, mtime) in the
cache root, so a multi-GB model folder is read once, not once per job.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from int_exp.pipeline.cache import file_digest

_SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints"}


def _looks_like_path(text: str) -> bool:
    """``data/x.jsonl``, ``./model``, ``~/m``, ``x.parquet``, or a bare folder holding a model
    (``my_model/config.json``); not ``test``, ``gsm8k`` or ``hf`` (split, builtin and backend names)."""
    if not text or len(text) > 4096 or "\n" in text or "://" in text or text.startswith(("builtin:", "hf:")):
        return False
    if "/" in text or "\\" in text or text.startswith((".", "~")) or Path(text).suffix:
        return True
    return (Path(text) / "config.json").is_file()


def _candidate_paths(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (nested dicts and lists) that could name a local path."""
    if isinstance(value, str):
        if _looks_like_path(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _candidate_paths(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _candidate_paths(item)


def _file_digest(path: Path, memo: dict[str, str]) -> str:
    """:func:`~.cache.file_digest`, remembered in ``memo`` by (path, size, mtime)."""
    stat = path.stat()
    token = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if token not in memo:
        memo[token] = file_digest(path)
    return memo[token]


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        files += [Path(root) / name for name in sorted(names) if not name.endswith(".lock")]
    return files


def path_fingerprint(path: Path, memo: dict[str, str]) -> str:
    """sha256 of a file's bytes, or of a folder's (relative path, file digest) list."""
    if path.is_file():
        return _file_digest(path, memo)
    entries = [f"{f.relative_to(path).as_posix()}:{_file_digest(f, memo)}" for f in _folder_files(path)]
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:20]


class Fingerprints:
    """Fingerprints of local paths, remembered on disk in ``<cache root>/.fingerprints.json``."""

    def __init__(self, root: Path):
        self.store = Path(root) / ".fingerprints.json"
        try:
            self.memo: dict[str, str] = json.loads(self.store.read_text())
        except (OSError, ValueError):
            self.memo = {}

    def of(self, subset: dict[str, Any]) -> dict[str, str]:
        """``{path as written: fingerprint}`` for the strings of ``subset`` that name local paths."""
        before = len(self.memo)
        found = {}
        for text in _candidate_paths(subset):
            try:
                path = Path(text).expanduser()
                if path.exists():
                    found[text] = path_fingerprint(path, self.memo)
            except OSError:
                continue  # a string that is not a usable path (too long, bad characters)
        if len(self.memo) != before:
            self._save()
        return found

    def _save(self) -> None:
        try:
            self.store.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.store.with_name(f".fingerprints.{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(self.memo, sort_keys=True))
            os.replace(tmp, self.store)  # concurrent jobs: the last writer wins, nothing is torn
        except OSError:
            pass  # remembering is an optimisation; the key is right either way
