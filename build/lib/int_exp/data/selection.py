"""Which rows of a problem set a job uses: a seeded subset, a slice, a shard (rules in
:mod:`int_exp.data`)."""

from __future__ import annotations

import hashlib
import re

import pandas as pd

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


