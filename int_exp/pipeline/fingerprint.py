"""File digests, remembered per file, and content fingerprints of the local paths a stage's
settings name.

A cache key built from ``data.train.source=problems.jsonl`` alone would serve old rows after the
file is edited; so would a key built from a local ``model.name_or_path``. Every string in a
stage's config subset that names an existing local file or folder therefore adds the sha256 of
its contents (a folder: of every file in it, by relative path) to the key. Hub ids, builtin
names (``builtin:...``, ``arith``) and URLs name nothing on disk and keep their text only.

Hashing is the slow part, so a file's digest is remembered (:class:`DigestMemo`, in
``<cache root>/.fingerprints.json``) under its device and inode, with its size, mtime and ctime:
an edit that keeps the size and restores the mtime (``cp -p``, ``rsync -t``, ``touch -r``) still
changes the ctime, which no user call can set back, so it is hashed again. The cache verifies its
entries' files with the same memo (:func:`~int_exp.pipeline.cache.entry_problem`).
sha256: faster than blake2b on CPUs with SHA instructions (1.2 vs 0.6 GB/s measured here), and
what table digests were before, so existing keys and manifests stay valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

_SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints"}
MEMO_FILE = ".fingerprints.json"
MAX_REMEMBERED = 200_000  # files; the oldest are forgotten first (they are hashed again if seen)
# A file changed again within the filesystem's timestamp granularity (a coarse clock tick, a
# second on some network filesystems) keeps its ctime: digests of files this fresh are not kept.
RACY_SECONDS = 2.0


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _read_memo(store: Path) -> dict[str, list]:
    """The remembered digests; entries of the earlier ``path|size|mtime`` format are dropped."""
    try:
        data = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 4}


class DigestMemo:
    """:func:`file_digest` remembered by (device, inode) while size, mtime and ctime are unchanged.

    One instance per cache root (:meth:`at`), shared by the cache and the fingerprints of a job."""

    _instances: ClassVar[dict[Path, DigestMemo]] = {}

    def __init__(self, root: Path):
        self.store = Path(root) / MEMO_FILE
        self.memo = _read_memo(self.store)
        self.changed = False

    @classmethod
    def at(cls, root: str | Path) -> DigestMemo:
        resolved = Path(root).expanduser().resolve()
        if resolved not in cls._instances:
            cls._instances[resolved] = cls(resolved)
        return cls._instances[resolved]

    def digest(self, path: Path) -> str:
        before = path.stat()
        key = f"{before.st_dev}:{before.st_ino}"
        known = self.memo.get(key)
        if known and known[:3] == _stamp(before):
            return known[3]
        digest = file_digest(path)
        after = path.stat()
        racy = time.time_ns() - after.st_ctime_ns < RACY_SECONDS * 1e9
        if _stamp(after) == _stamp(before) and not racy:  # not written to while it was read
            self.memo.pop(key, None)  # re-inserted last: the oldest entries are forgotten first
            self.memo[key] = [*_stamp(after), digest]
            self.changed = True
        return digest

    def save(self) -> None:
        """Merge into the file on disk (concurrent jobs each add theirs; a lost race costs a re-hash)."""
        if not self.changed:
            return
        try:
            merged = {**_read_memo(self.store), **self.memo}
            if len(merged) > MAX_REMEMBERED:
                merged = dict(list(merged.items())[-MAX_REMEMBERED:])
            self.store.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.store.with_name(f".fingerprints.{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(merged))
            os.replace(tmp, self.store)
            self.changed = False
        except OSError:
            pass  # remembering is an optimisation; keys and checks are right either way


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


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        files += [Path(root) / name for name in sorted(names) if not name.endswith(".lock")]
    return files


def path_fingerprint(path: Path, memo: DigestMemo) -> str:
    """sha256 of a file's bytes, or of a folder's (relative path, file digest) list."""
    if path.is_file():
        return memo.digest(path)
    entries = [f"{f.relative_to(path).as_posix()}:{memo.digest(f)}" for f in _folder_files(path)]
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:20]


class Fingerprints:
    """Fingerprints of local paths, their file digests remembered in the cache root's memo."""

    def __init__(self, root: Path):
        self.memo = DigestMemo.at(root)

    def of(self, subset: dict[str, Any]) -> dict[str, str]:
        """``{path as written: fingerprint}`` for the strings of ``subset`` that name local paths."""
        found = {}
        for text in _candidate_paths(subset):
            try:
                path = Path(text).expanduser()
                if path.exists():
                    found[text] = path_fingerprint(path, self.memo)
            except OSError:
                continue  # a string that is not a usable path (too long, bad characters)
        self.memo.save()
        return found
