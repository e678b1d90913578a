"""Inputs checked before any work: the data files and hub sets, model folders and cache folder a job names.

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

from int_exp.config import setting

log = logging.getLogger("int_exp.checks")

MODEL_FOLDER = "a model folder (config.json, tokenizer files, weights) or a hub id"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
NOT_A_PATH = ("self", "oracle", "auto")  # intervention.proposer's named choices


def _data_sources(cfg: Any) -> list[tuple[str, Any, tuple[str, ...]]]:
    """(source setting, dataset spec, required columns) of every data set read from a local file or the
    hub: the problem sets and the published sets that stand in for stage outputs."""
    from int_exp.data import published
    from int_exp.data.files import FILE_SUFFIXES, REQUIRED
    from int_exp.domains import domain_of

    specs = [("data.train.source", cfg.data.train, REQUIRED),
             *((f"data.eval[{i}].source", s, REQUIRED) for i, s in enumerate(cfg.data.eval)),
             *((f"{name}.source", published.spec_of(cfg[name]), published.ENTRIES[name]) for name in published.entered(cfg))]

    def external(source: str) -> bool:
        return (source.startswith("hf:") or source.lower().endswith(FILE_SUFFIXES)) and not domain_of(source).owns(source)

    return [(key, spec, required) for key, spec, required in specs if external(str(setting(spec, "source")))]


def data_problems(cfg: Any) -> list[str]:
    """Every data file and hub set opened and validated as the stage that reads it will (columns,
    empty and non-text values, unknown sources), so a missing column fails here, naming the set, the
    column and the columns found, not after hours of sampling. Hub sets need the network (or the
    ``datasets`` cache, which the stages then read again for free); missing files are the settings
    checks' business."""
    from int_exp.data import read_source

    problems = []
    for key, spec, required in _data_sources(cfg):
        source = str(setting(spec, "source"))
        if not source.startswith("hf:") and not Path(source).expanduser().exists():
            continue
        try:
            table = read_source(spec, cfg.data, train=False, required=required)  # the stage warns about references
        except (ValueError, OSError) as e:
            problems.append(f"{key}={source}: {e}")
        else:  # what a hub set turned out to be: its size and columns, before any work
            log.info("%s=%s: %d rows, columns %s", key, source, len(table), list(table.columns))
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


# Above this many generated tokens (an upper bound over the sampling stages) a job says so at the
# start: 20M tokens is ~6 h at 1,000 tok/s, what a small model samples on a few CPU cores.
WORK_WARNING_TOKENS = 20_000_000


def _problem_count(spec: Any, data_cfg: Any, train: bool) -> int | None:
    """Rows a dataset will have after limit, slice and shard; None where it cannot be known cheaply
    (hub sets) or reading fails (reported by the checks or by the stage)."""
    if str(spec.source).startswith("hf:"):
        return None
    from int_exp.data import load_dataset_spec

    try:
        return len(load_dataset_spec(spec, data_cfg, train=train))
    except (ValueError, OSError):
        return None


def work_estimate(cfg: Any, order: list[str]) -> tuple[int, list[str]]:
    """Generated tokens of the sampling stages in ``order`` (upper bounds: every rollout failing,
    every proposal kept), as a total and one line per stage; stages already cached still count."""
    train = _problem_count(cfg.data.train, cfg.data, True) or 0
    evals = sum(_problem_count(spec, cfg.data, False) or 0 for spec in cfg.data.eval)
    icfg = cfg.intervention
    attempts = train * cfg.rollouts.k  # upper bound on failed attempts
    proposals = attempts * min(icfg.solve_samples * icfg.k, icfg.per_attempt)  # parse keeps per_attempt
    rl_batch = cfg.rl.per_device_batch_size * cfg.rl.gradient_accumulation_steps * cfg.rl.num_processes
    parts = {
        "rollouts": (f"{train} problems x {cfg.rollouts.k} x {cfg.sampling.max_tokens}",
                     train * cfg.rollouts.k * cfg.sampling.max_tokens),
        "propose": (f"{attempts} attempts x {icfg.solve_samples} x (1 + {icfg.k}) x {icfg.sampling.max_tokens}",
                    0 if icfg.proposer == "oracle" else
                    attempts * icfg.solve_samples * (1 + icfg.k) * icfg.sampling.max_tokens),
        "continuations": (f"{proposals} interventions x {icfg.filter_samples} x {cfg.sampling.max_tokens}",
                          proposals * icfg.filter_samples * cfg.sampling.max_tokens),
        "reflect": (f"{attempts} attempts x {cfg.reflect.max_tokens}", attempts * cfg.reflect.max_tokens),
        "rl": (f"{cfg.rl.max_steps} steps x {rl_batch} x {cfg.rl.max_completion_length}",
               cfg.rl.max_steps * rl_batch * cfg.rl.max_completion_length),
        "eval": (f"{evals} problems x {cfg.eval.n} x {cfg.eval.max_tokens}", evals * cfg.eval.n * cfg.eval.max_tokens),
    }
    lines = [f"{name}: <= {tokens:,} tokens ({how})" for name, (how, tokens) in parts.items() if name in order and tokens]
    return sum(tokens for name, (_, tokens) in parts.items() if name in order), lines


def log_planned_work(cfg: Any, order: list[str]) -> None:
    total, lines = work_estimate(cfg, order)
    if total > WORK_WARNING_TOKENS:
        log.warning("this job may generate up to %s tokens (upper bounds; cached stages are free):\n  %s",
                    f"{total:,}", "\n  ".join(lines))
    elif lines:
        log.info("planned generation, upper bounds: %s", "; ".join(lines))


def check_inputs(cfg: Any) -> None:
    """Raise one ValueError listing every unusable input (see :func:`input_problems`)."""
    problems = input_problems(cfg)
    if problems:
        raise ValueError("unusable inputs (nothing was run):\n  " + "\n  ".join(problems))
