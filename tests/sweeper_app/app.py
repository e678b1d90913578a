"""A tiny Hydra app for tests/test_optuna_sweeper.py: a quadratic objective over x, y and kind.

Each job writes ``record.json`` (its trial number, params, fixed value and objective) into its
output folder. ``fail_trials`` / ``none_trials`` make given Optuna trial numbers raise / return
None; ``hang_trials`` write ``started.txt`` and sleep (a sweep to kill mid-trial); ``kind=bad``
raises. Kept importable and picklable for submitit (no state at import).
"""

import json
import time
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


def objective(cfg: DictConfig):
    trial = cfg.tracking.trial_number
    if trial is not None and trial in cfg.fail_trials:
        raise RuntimeError(f"trial {trial} was told to fail")
    if cfg.kind == "bad":
        raise ValueError("kind=bad is not allowed")
    if trial is not None and trial in cfg.hang_trials:
        Path(HydraConfig.get().runtime.output_dir, "started.txt").write_text(str(trial))
        time.sleep(600)
    if trial is not None and trial in cfg.none_trials:
        return None
    value = (cfg.x - 0.3) ** 2 + 0.1 * cfg.y + {"good": 0.0, "ok": 0.5}.get(cfg.kind, 1.0)
    if cfg.second_objective:
        return [value, -cfg.x]
    return value


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    value = objective(cfg)
    record = {
        "trial_number": cfg.tracking.trial_number,
        "study_name": cfg.tracking.study_name,
        "x": cfg.x,
        "y": cfg.y,
        "kind": cfg.kind,
        "fixed": cfg.fixed,
        "value": value,
    }
    Path(HydraConfig.get().runtime.output_dir, "record.json").write_text(json.dumps(record))
    return value


if __name__ == "__main__":
    main()
