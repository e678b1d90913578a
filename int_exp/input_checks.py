"""Inputs checked before any work: the data files, model folders and cache folder a job names.

The settings checks (:mod:`int_exp.checks`) judge values; these open what the values point at.
Run by :func:`int_exp.cli.run_job` after the settings checks and before any MLflow run or cache
entry exists, so a bad file costs a second, not two FAILED runs. Each problem names the setting,
the path and what was expected; all are listed at once.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("int_exp.checks")

MODEL_FOLDER = "a model folder (config.json, tokenizer files, weights) or a hub id"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
NOT_A_PATH = ("self", "oracle", "auto")  # intervention.proposer's named choices


def _file_sources(cfg: Any) -> list[tuple[str, Any]]:
    """(setting, dataset spec) of every dataset read from a local file."""
    from int_exp.data.files import FILE_SUFFIXES
    from int_exp.domains import domain_of

    specs = [("data.train", cfg.data.train), *((f"data.eval[{i}]", s) for i, s in enumerate(cfg.data.eval))]
    return [(key, spec) for key, spec in specs
            if str(spec.source).lower().endswith(FILE_SUFFIXES) and not domain_of(str(spec.source)).owns(str(spec.source))]


def data_problems(cfg: Any) -> list[str]:
    """Every local data file opened and validated as the ``problems`` stage will (columns, empty
    and non-text values, unknown sources), its rows counted; missing files are the settings
    checks' business."""
    from int_exp.data import read_source

    problems = []
    for key, spec in _file_sources(cfg):
        source = str(spec.source)
        if not Path(source).expanduser().exists():
            continue
        try:
            read_source(spec, cfg.data, train=False)  # train=False: the stage itself warns about references
        except (ValueError, OSError) as e:
            problems.append(f"{key}.source={source}: {e}")
    return problems


def _config_problem(config: Path) -> str | None:
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError) as e:
        return f"its config.json cannot be read as JSON ({e})"
    if not isinstance(data, dict) or "model_type" not in data:
        return "its config.json has no 'model_type' (not a transformers model config)"
    return None


def model_folder_problems(key: str, value: Any) -> list[str]:
    """A local model folder must hold what ``from_pretrained`` loads: a config, a tokenizer and
    weights. Hub ids, builtins and missing paths are judged elsewhere."""
    text = str(value or "")
    path = Path(text).expanduser()
    if not text or text in NOT_A_PATH or text.startswith("builtin:") or not path.exists():
        return []
    if not path.is_dir():
        return [f"{key}={text}: is a file, expected {MODEL_FOLDER}"]
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / name).is_file() for name in TOKENIZER_FILES) and not any(path.glob("*.tiktoken")):
        missing.append(f"tokenizer files (one of {', '.join(TOKENIZER_FILES)})")
    if not any(any(path.glob(pattern)) for pattern in WEIGHT_PATTERNS):
        missing.append("weights (*.safetensors or *.bin)")
    if missing:
        return [f"{key}={text}: the folder has no {'; no '.join(missing)}; expected {MODEL_FOLDER}"]
    problem = _config_problem(path / "config.json")
    return [f"{key}={text}: {problem}; expected {MODEL_FOLDER}"] if problem else []


def cache_dir_problems(value: Any) -> list[str]:
    """The cache folder (or the nearest folder above it, where it will be made) must be a folder
    this job can write into: tried with a file made and removed at once."""
    text = str(value)
    key = "paths.cache_dir" + (" (INT_EXP_CACHE)" if text == os.environ.get("INT_EXP_CACHE") else "")
    path = Path(text).expanduser().absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "is a file" if existing == path else f"cannot be made: {existing} is a file"
        return [f"{key}={text}: {where}; expected a folder for cache entries"]
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".int-exp-write-check-"):
            pass
    except OSError as e:
        what = "folder" if existing == path else f"folder above it, {existing},"
        expected = "expected a folder this job can write cache entries into"
        return [f"{key}={text}: the {what} is not writable ({e.strerror}); {expected}"]
    return []


def input_problems(cfg: Any) -> list[str]:
    problems = cache_dir_problems(cfg.paths.cache_dir)
    problems += model_folder_problems("model.name_or_path", cfg.model.name_or_path)
    problems += model_folder_problems("intervention.proposer", cfg.intervention.proposer)
    return problems + data_problems(cfg)


def check_inputs(cfg: Any) -> None:
    """Raise one ValueError listing every unusable input (see :func:`input_problems`)."""
    problems = input_problems(cfg)
    if problems:
        raise ValueError("unusable inputs (nothing was run):\n  " + "\n  ".join(problems))
