"""Problems from local files (``.jsonl``, ``.parquet``, ``.csv``) and Hugging Face hub sets, normalised
to the pipeline's columns and validated (the rules are in :mod:`int_exp.data`)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger("int_exp.data")

REQUIRED = ("problem", "answer")
FILE_SUFFIXES = (".jsonl", ".parquet", ".csv")


def read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSON Lines file (blank lines skipped); a bad line is a ValueError naming it."""
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
    return rows


# --------------------------------------------------------------------------------------------


def read_file(source: str) -> pd.DataFrame:
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


def read_hub(source: str, split: str) -> pd.DataFrame:
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


def normalise(
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


def check_required(table: pd.DataFrame, label: str) -> None:
    for column in REQUIRED:
        if column not in table:
            raise ValueError(
                f"{label}: required column {column!r} missing; found columns: {list(table.columns)}"
            )
        _check_not_empty(table, column, label)


