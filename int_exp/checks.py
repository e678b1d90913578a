"""Settings checked before any work starts: no MLflow run, no cache entry, no model loaded.

:func:`check_settings` lists every unusable setting at once, each as ``key=value: what is
allowed``, so a typo'd value fails in a second instead of after SFT and RL have run.
"""

from __future__ import annotations

from typing import Any

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


def settings_problems(cfg: Any) -> list[str]:
    """Every setting of ``cfg`` that cannot work, as ``key=value: what is allowed`` lines."""
    problems = []
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

    if name_or_path.startswith("builtin:") or Path(name_or_path).expanduser().exists() or name_or_path.count("/") != 1:
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
