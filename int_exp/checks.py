"""Settings checked before any work starts: no MLflow run, no cache entry, no model loaded.

:func:`check_settings` lists every unusable setting at once, each as ``key=value: what is
allowed``, so a typo'd value fails in a second instead of after SFT and RL have run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from omegaconf import OmegaConf

DTYPES = ("float32", "float16", "bfloat16")


def _sampling_problems(prefix: str, sampling: Any) -> list[str]:
    problems = []
    if sampling.temperature < 0:
        problems.append(f"{prefix}.temperature={sampling.temperature}: must be >= 0 (0 samples greedily)")
    if not 0 < sampling.top_p <= 1:
        problems.append(f"{prefix}.top_p={sampling.top_p}: must be in (0, 1]")
    if sampling.top_k < 0:
        problems.append(f"{prefix}.top_k={sampling.top_k}: must be >= 0 (0: no top-k cut)")
    if sampling.max_tokens < 1:
        problems.append(f"{prefix}.max_tokens={sampling.max_tokens}: must be >= 1")
    return problems


def _local_path_problems(key: str, value: Any, must_be_file: bool) -> list[str]:
    """A value that is written as a local path (``/x``, ``./x``, ``~/x``, ``x.jsonl``) must exist."""
    from pathlib import Path

    text = str(value or "")
    looks_local = text.startswith(("/", ".", "~")) or (must_be_file and text.endswith((".jsonl", ".parquet", ".csv")))
    if looks_local and not Path(text).expanduser().exists():
        kind = "file" if must_be_file else "folder"
        return [f"{key}={text}: no such local {kind} (a hub id has the form org/name)"]
    return []


# Samples per problem (eval.n, rollouts.k, ...). More is beyond what one job can generate here in
# memory and time (100,000 asked for one 118 GB allocation, 20,000 for ~24 GB on the smoke chain):
# split the work over jobs and seeds instead.
MAX_SAMPLES = 1024
SAMPLE_COUNTS = ("eval.n", "rollouts.k", "intervention.k", "intervention.solve_samples", "intervention.filter_samples",
                 "rl.num_generations")
SEED_LIMIT = 2**32  # numpy's and torch's seeds are unsigned 32-bit


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf of a resolved config; list items as ``key[i]``."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{key}[{i}]")
    else:
        yield key, value


def _number_problems(cfg: Any) -> list[str]:
    """Non-finite numbers anywhere (nan passes every comparison); seeds outside 0..2**32-1."""
    from omegaconf import OmegaConf

    try:
        resolved = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - an interpolation that fails is reported where it is used
        return []
    # A key that copies another (eval.temperature: ${sampling.temperature}) is named once, at its source.
    copies = {key for key, raw in _leaves(OmegaConf.to_container(cfg, resolve=False))
              if isinstance(raw, str) and raw.startswith("${")}
    problems = []
    for key, value in _leaves(resolved):
        if key in copies:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{key}={value}: must be a finite number")
        elif key.rsplit(".", 1)[-1] == "seed" and isinstance(value, int) and not 0 <= value < SEED_LIMIT:
            problems.append(f"{key}={value}: seeds must be in 0..{SEED_LIMIT - 1}")
    return problems


def _size_problems(cfg: Any) -> list[str]:
    problems = []
    if not cfg.stages:
        problems.append("stages=[]: name at least one target stage, e.g. stages=[eval] or stages=[sft,rl,eval]")
    if cfg.threads < 0:
        problems.append(f"threads={cfg.threads}: must be >= 0 (0: this machine's cores shared among its jobs)")
    for key in SAMPLE_COUNTS:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, int) and value > MAX_SAMPLES:
            problems.append(f"{key}={value}: at most {MAX_SAMPLES} samples per problem (int_exp.checks.MAX_SAMPLES); "
                            "more is beyond what one job can generate in memory and time")
    return problems


def _data_problems(data: Any) -> list[str]:
    from int_exp.data.selection import parse_shard, parse_slice

    problems = []
    limits = [("data.limit", data.limit), ("data.train.limit", data.train.limit)]
    limits += [(f"data.eval[{i}].limit", spec.limit) for i, spec in enumerate(data.eval)]
    problems += [f"{key}={value}: must be >= 0 or null (every row)" for key, value in limits
                 if value is not None and value < 0]
    for key, parse in (("slice", parse_slice), ("shard", parse_shard)):
        if data[key] is not None and str(data[key]).strip():
            try:
                parse(data[key])
            except ValueError as e:
                problems.append(f"data.{key}={data[key]}: {e}")
    return problems


def _training_problems(cfg: Any) -> list[str]:
    problems = []
    for section in ("sft", "rl"):
        train = cfg[section]
        if not train.learning_rate > 0:
            problems.append(f"{section}.learning_rate={train.learning_rate}: must be > 0")
        for key in ("per_device_batch_size", "gradient_accumulation_steps"):
            if train[key] < 1:
                problems.append(f"{section}.{key}={train[key]}: must be >= 1")
    if not cfg.sft.epochs > 0:
        problems.append(f"sft.epochs={cfg.sft.epochs}: must be > 0")
    if cfg.rl.max_steps < 1:
        problems.append(f"rl.max_steps={cfg.rl.max_steps}: must be >= 1")
    for key in ("sft.min_lr_rate", "sft.warmup_ratio", "rl.hint_fraction"):
        value = OmegaConf.select(cfg, key)
        if not 0 <= value <= 1:
            problems.append(f"{key}={value}: must be in [0, 1]")
    return problems


def _published_problems(cfg: Any) -> list[str]:
    """Published sets that stand in for stage outputs: a local one must exist, and ``sft.data=published``
    needs its set and trains on it as the paper's data is: prefix + intervention, no end of turn."""
    problems = [p for name in ("failures", "sft", "rl") if cfg[name].source
                for p in _local_path_problems(f"{name}.source", cfg[name].source, must_be_file=True)]
    if cfg.sft.data == "published" and not cfg.sft.source:
        problems.append("sft.data=published: needs sft.source (hf:CMU-AIRe/InT-SFT or a local .parquet/.jsonl/.csv)")
    if cfg.sft.data == "published" and (not cfg.sft.clone_prefix or cfg.sft.clone_suffix):
        problems.append(f"sft.data=published: the published targets are prefix + intervention (sft.clone_prefix=true, "
                        f"sft.clone_suffix=false), got clone_prefix={cfg.sft.clone_prefix}, clone_suffix={cfg.sft.clone_suffix}")
    return problems


def settings_problems(cfg: Any) -> list[str]:
    """Every setting of ``cfg`` that cannot work, as ``key=value: what is allowed`` lines."""
    problems = _number_problems(cfg) + _size_problems(cfg) + _data_problems(cfg.data) + _training_problems(cfg)
    if cfg.eval.n < 1:
        problems.append(f"eval.n={cfg.eval.n}: must be >= 1 (samples per problem)")
    bad_k = [k for k in cfg.eval.k if not 1 <= k <= max(cfg.eval.n, 1)]
    if not cfg.eval.k or bad_k:
        problems.append(f"eval.k={list(cfg.eval.k)}: each k must be between 1 and eval.n={cfg.eval.n}")
    if not cfg.data.eval:
        problems.append("data.eval=[]: at least one evaluation set is needed")
    for i, spec in enumerate([cfg.data.train, *cfg.data.eval]):
        key = "data.train.source" if i == 0 else f"data.eval[{i - 1}].source"
        problems += _local_path_problems(key, spec.source, must_be_file=True)
    problems += _published_problems(cfg)
    if cfg.rollouts.k < 1:
        problems.append(f"rollouts.k={cfg.rollouts.k}: must be >= 1 (samples per training problem)")
    problems += _sampling_problems("sampling", cfg.sampling)
    problems += _sampling_problems("intervention.sampling", cfg.intervention.sampling)
    icfg = cfg.intervention
    for key in ("k", "solve_samples"):
        if icfg[key] < 1:
            problems.append(f"intervention.{key}={icfg[key]}: must be >= 1")
    if icfg.correctness_filter and icfg.filter_samples < 1:
        problems.append(f"intervention.filter_samples={icfg.filter_samples}: must be >= 1 with the correctness filter")
    if icfg.correctness_filter and not 0 <= icfg.min_correct <= icfg.filter_samples:
        problems.append(f"intervention.min_correct={icfg.min_correct}: must be in 0..intervention.filter_samples"
                        f"={icfg.filter_samples}")
    if cfg.rl.num_generations < 2:
        problems.append(f"rl.num_generations={cfg.rl.num_generations}: GRPO needs groups of at least 2")
    elif cfg.rl.per_device_batch_size % cfg.rl.num_generations:
        problems.append(f"rl.per_device_batch_size={cfg.rl.per_device_batch_size}: must be a multiple of "
                        f"rl.num_generations={cfg.rl.num_generations} (it counts completions)")
    if cfg.model.dtype not in DTYPES:
        problems.append(f"model.dtype={cfg.model.dtype}: must be one of {', '.join(DTYPES)}")
    problems += _local_path_problems("model.name_or_path", cfg.model.name_or_path, must_be_file=False)
    problems += _tracking_problems(cfg.tracking)
    return problems


TRACKING_SCHEMES = ("http", "https", "sqlite", "file", "postgresql", "mysql", "mssql", "databricks")


def _tracking_problems(tracking: Any) -> list[str]:
    uri = str(tracking.uri)
    if not tracking.enabled or "://" not in uri:
        return []
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    if scheme not in TRACKING_SCHEMES:
        return [f"tracking.uri={uri}: unknown scheme {scheme!r}; expected one of {', '.join(TRACKING_SCHEMES)}"]
    from int_exp.tracking import sqlite_folder_problem

    problem = sqlite_folder_problem(uri, bool(tracking.get("create", False)))
    return [problem] if problem else []


def hub_model_problems(name_or_path: str, revision: str | None, probe_timeout: float = 3.0) -> list[str]:
    """A hub id that is neither cached nor reachable fails now, not after a minute of retries."""
    import socket
    from pathlib import Path

    if name_or_path.startswith(("builtin:", "models:/")) or Path(name_or_path).expanduser().exists() or name_or_path.count("/") != 1:
        return []
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name_or_path, "config.json", revision=revision), str):
        return []  # in the local hub cache
    import os

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if not offline:
        try:
            socket.create_connection(("huggingface.co", 443), timeout=probe_timeout).close()
            return []
        except OSError:
            pass
    message = (f"model.name_or_path={name_or_path}: not a local folder, not in the hub cache, and the hub is "
               "unreachable (offline); download it where there is network, or pass a local folder")
    return [message]


def check_settings(cfg: Any) -> None:
    """Raise one ValueError listing every unusable setting (see :func:`settings_problems`)."""
    problems = settings_problems(cfg) + hub_model_problems(str(cfg.model.name_or_path), cfg.model.revision)
    if problems:
        raise ValueError("invalid settings (nothing was run):\n  " + "\n  ".join(problems))
