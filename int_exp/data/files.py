"""Problems from local files (``.jsonl``, ``.parquet``, ``.csv``) and Hugging Face hub sets, normalised
to the pipeline's columns and validated (the rules are in :mod:`int_exp.data`)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger("int_exp.data")

REQUIRED = ("problem", "answer")
FILE_SUFFIXES = (".jsonl", ".parquet", ".csv")


def read_jsonl(path: Path, line_numbers: list[int] | None = None) -> list[dict]:
    """The rows of a JSON Lines file (blank lines skipped); a bad line is a ValueError naming it.
    ``line_numbers``, when given, receives each row's line in the file (from 1)."""
    rows = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}: line {number} is not UTF-8 text ({e})") from e
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}: line {number} is not valid JSON ({e})") from e
                if not isinstance(rows[-1], dict):
                    raise ValueError(f"{path}: line {number} is a JSON {type(rows[-1]).__name__}, expected an "
                                     'object like {"problem": ..., "answer": ...}')
                if line_numbers is not None:
                    line_numbers.append(number)
    return rows


# --------------------------------------------------------------------------------------------


# The tables read in this process, by file identity: a job's input checks, its work estimate and
# its problems stage read the same files, which are parsed once (each caller gets a copy).
_READ: dict[tuple, pd.DataFrame] = {}


def read_file(source: str) -> pd.DataFrame:
    """Every row of a local ``.jsonl``/``.parquet``/``.csv`` file; a ``.jsonl`` file's line numbers
    are kept in ``attrs["lines"]`` for messages about its rows."""
    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data file {source!r} not found (looked for {path.resolve()})")
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValueError(f"data file {source}: is a folder, expected a {suffix[1:]} file")
    stat = path.stat()
    identity = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if identity not in _READ:
        if len(_READ) >= 8:
            _READ.pop(next(iter(_READ)))
        _READ[identity] = _parse_file(path, source, suffix)
    return _READ[identity].copy()


def _parse_file(path: Path, source: str, suffix: str) -> pd.DataFrame:
    if suffix == ".jsonl":
        lines: list[int] = []
        table = pd.DataFrame(read_jsonl(path, lines))
        table.attrs["lines"] = lines
        return table
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        # csv: every cell as text, empty cells as "" (so they are reported as empty, not as "nan")
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as e:  # pyarrow and pandas raise many types for a file that is not what it says
        raise ValueError(f"data file {source}: cannot be read as {suffix[1:]} ({type(e).__name__}: {e})") from e


def hub_id_and_revision(source: str) -> tuple[str, str | None]:
    """``hf:<id>[@<revision>]`` -> ``(id, revision or None)``; the revision (a commit, tag or
    branch) is part of the source text, so it enters every cache key that names the set.

    >>> hub_id_and_revision("hf:CMU-AIRe/InT-SFT@3f2a")
    ('CMU-AIRe/InT-SFT', '3f2a')
    """
    hub_id, _, revision = source[len("hf:") :].strip().partition("@")
    return hub_id.strip(), revision.strip() or None


def read_hub(source: str, split: str) -> pd.DataFrame:
    hub_id, revision = hub_id_and_revision(source)
    if not hub_id:
        raise ValueError("hf: source needs a hub id, e.g. hf:openai/gsm8k (a revision after @: hf:org/name@<commit>)")
    try:
        from datasets import load_dataset

        dataset = load_dataset(hub_id, split=split, revision=revision)
    except Exception as e:  # any hub failure gets the same advice
        raise ValueError(
            f"{source}: could not load split {split!r} from the Hugging Face hub ({type(e).__name__}: {e}). "
            "This needs network access or a cached copy; offline, save the set as a .jsonl/.parquet/.csv "
            "file and use its path as the source"
        ) from e
    return dataset.to_pandas()


def normalise(
    raw: pd.DataFrame,
    columns: Mapping[str, str],
    *,
    label: str,
    default_source: str,
    id_prefix: str,
    train: bool,
    required: tuple[str, ...] = REQUIRED,
) -> pd.DataFrame:
    """Rename ``columns`` (ours -> theirs), check and fill our columns, keep the rest. ``required``:
    the columns the reader needs (``problem`` and ``answer`` for problem sets)."""
    found = [str(c) for c in raw.columns]
    for ours, theirs in columns.items():
        if theirs not in raw.columns:
            raise ValueError(
                f"{label}: column {theirs!r} (mapped to {ours!r} by 'columns') missing; "
                f"found columns: {found}"
            )
    for ours in required:
        if ours not in columns and ours not in raw.columns:
            raise ValueError(f"{label}: required column {ours!r} missing; found columns: {found}")
    lines = raw.attrs.get("lines")
    table = raw.drop(columns=[c for c in columns if c in raw.columns and c not in columns.values()])
    table = table.rename(columns={theirs: ours for ours, theirs in columns.items()}).reset_index(drop=True)

    texts = [name for name in REQUIRED if name in table]
    for name in texts:
        _check_text_cells(table, name, label, lines)
    for name in texts:
        table[name] = table[name].map(cell_text)
    if "reference_solution" in table:
        table["reference_solution"] = table["reference_solution"].map(lambda v: cell_text(v) or "")
    else:
        table["reference_solution"] = ""
        (log.warning if train else log.debug)(
            "%s has no 'reference_solution' column: the proposer and the sft_ref baseline need one "
            "(map it with columns: {reference_solution: <name>}); the failures stage will drop every row",
            label,
        )

    if "problem_id" in table:
        table["problem_id"] = table["problem_id"].map(lambda v: cell_text(v) or "")
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
        table["source"] = table["source"].map(lambda v: cell_text(v) or default_source)
    else:
        table["source"] = default_source
    first = ["problem_id", "problem", "answer", "reference_solution", "source"]
    first = [c for c in first if c in table]
    table = table[first + [c for c in table.columns if c not in first]]
    table.attrs["lines"] = lines  # for check_required's messages
    return table


def row_name(index: int, lines: list[int] | None) -> str:
    """How every message names the row at position ``index`` (from 0): its line in a ``.jsonl``
    file, else ``row <index + 1>`` (rows count from 1, the header of a CSV not counted)."""
    return f"line {lines[index]}" if lines and index < len(lines) else f"row {index + 1}"


def _not_text(value: Any) -> str | None:
    """What ``value`` is when it cannot stand for a problem or an answer, else None (missing values
    are not judged here: they are reported as empty)."""
    if isinstance(value, (bool, np.bool_)):
        return f"a boolean ({value})"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "a list"
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return f"a non-finite number ({value})"
    if value is None or isinstance(value, (str, bytes, int, float, np.integer, np.floating)):
        return None
    return f"a {type(value).__name__}"


def _check_text_cells(table: pd.DataFrame, column: str, label: str, lines: list[int] | None) -> None:
    kinds = table[column].map(_not_text)
    bad = kinds.notna().to_numpy().nonzero()[0]
    if len(bad):
        first = int(bad[0])
        raise ValueError(f"{label}: column {column!r} at {row_name(first, lines)} holds {kinds.iloc[first]}, "
                         f"expected text or a finite number ({len(bad)} such value(s) of {len(table)})")


def cell_text(value: Any) -> str | None:
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
    empty = table[column].map(lambda v: not cell_text(v))
    if empty.any():
        first = int(empty.to_numpy().nonzero()[0][0])
        raise ValueError(
            f"{label}: required column {column!r} has {int(empty.sum())} empty value(s) of {len(table)} "
            f"(first at {row_name(first, table.attrs.get('lines'))})"
        )


def check_required(table: pd.DataFrame, label: str, required: tuple[str, ...] = REQUIRED) -> None:
    """Every ``required`` column present; ``problem`` and ``answer`` (where present) never empty.
    Other columns may have empty cells: the stage that reads them drops and counts those rows."""
    for column in required:
        if column not in table:
            raise ValueError(
                f"{label}: required column {column!r} missing; found columns: {list(table.columns)}"
            )
    for column in REQUIRED:
        if column in table:
            _check_not_empty(table, column, label)
