"""Published stage outputs: a data set that stands in for what a stage would compute (the paper's
incorrect attempts, its SFT set, its RL problems), read through the loader of problem sets
(:func:`int_exp.data.read_source`), so files and hub sets, ``columns`` mappings and their error
messages work as for ``data.train``.

A stage that can be entered this way has three settings in its section
(:class:`~int_exp.config.PublishedSource`): ``source`` (``hf:<id>[@<revision>]`` or a local
``.parquet``/``.jsonl``/``.csv``; null: the stage computes its output), ``source_split`` and
``source_columns`` (ours -> theirs). The set is part of the stage's config subset, so a hub set
enters the cache key by its id and revision and a local file by its content
(:mod:`int_exp.pipeline.fingerprint`); :func:`lineage` names it in MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from int_exp.config import setting
from int_exp.data.files import cell_text, hub_id_and_revision
from int_exp.pipeline.fingerprint import file_digest

# The columns each entry needs, in our names (the paper's dataset contract).
ENTRIES = {
    "failures": ("problem", "answer", "reference_solution", "incorrect_attempt"),
    "sft": ("problem", "intervention_guided_attempt"),
    "rl": ("problem", "answer"),
}
SETTINGS = ("source", "source_split", "source_columns")


def reads(section: str) -> list[str]:
    """The keys a stage entered from ``section``'s published set reads (its cache key's share)."""
    return [f"{section}.{name}" for name in SETTINGS]


def spec_of(section: Any) -> dict[str, Any]:
    return {"source": str(section.source), "split": str(section.source_split),
            "columns": dict(section.source_columns or {})}


def read_published(name: str, section: Any) -> pd.DataFrame:
    """Every row of ``<name>.source``, normalised; a missing column is a ValueError naming the
    set, the column and the columns found."""
    from int_exp.data import read_source

    return read_source(spec_of(section), None, train=False, required=ENTRIES[name])


def filled(value: Any) -> bool:
    """A cell with text in it (not None, NaN or blank): published rows without one are dropped."""
    return bool(cell_text(value))


def source(cfg: Any, name: str) -> str | None:
    """``<name>.source`` of a job's config: the published set that stage reads, or None."""
    return setting(setting(cfg, name), "source") or None


def entered(cfg: Any) -> list[str]:
    """The sections of ``cfg`` whose stage output comes from a published set."""
    return [name for name in ENTRIES if source(cfg, name)]


def lineage(section: Any) -> str:
    """What a published set is, for MLflow: hub id, revision and split, or a file and its digest.

    >>> from types import SimpleNamespace as S
    >>> lineage(S(source="hf:CMU-AIRe/InT-SFT@abc", source_split="train"))
    'hf:CMU-AIRe/InT-SFT revision abc split train'
    """
    source = str(section.source)
    if source.startswith("hf:"):
        hub_id, revision = hub_id_and_revision(source)
        return f"hf:{hub_id} revision {revision or 'main (not pinned)'} split {section.source_split}"
    return f"{source} sha256 {file_digest(Path(source).expanduser())}"
