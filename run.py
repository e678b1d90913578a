"""int-exp entry point: `python run.py [overrides]`, `python run.py -m ...` for sweeps.

Returns the metric named by `optimized_metric` so Optuna sweeps can optimise it.
"""

import hydra
from omegaconf import DictConfig

from int_exp.domains.schema import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from int_exp.cli import run_job

    return run_job(cfg)


if __name__ == "__main__":
    main()
