"""Multi-process training through ``accelerate launch`` (DeepSpeed ZeRO-3, FSDP, DDP).

When ``sft.num_processes > 1`` (or ``rl.num_processes``) the stage writes a job spec into its
output folder and starts::

    accelerate launch --num_processes N [--config_file conf/accelerate/<x>.yaml] \\
        -m int_exp.training.launch <spec.json>

The spec names the trainer (``sft.trainer``) and the reward function by import path, so this
module starts any registered trainer without knowing which (a plugin trainer named in
``$INT_EXP_TRAINERS`` is found in the child processes too: they inherit the environment).
Every process runs the same trainer (accelerate shards the work); the main process
writes the final metrics and the log history next to the spec, and the stage logs them to
MLflow once the launch returns. Metrics therefore arrive after training, not live.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

RESULT_FILE = "launch_result.json"


def launch(trainer: str, reward_fn: Callable[..., list[float]] | None, data: list[dict], model_path: str, cfg: Any,
           out_dir: Path, work_dir: Path) -> dict:
    """Run the trainer named ``trainer`` under ``accelerate launch``; return its final metrics and
    log history. ``reward_fn`` must be a module-level function (it travels by import path)."""
    reward = f"{reward_fn.__module__}:{reward_fn.__qualname__}" if reward_fn is not None else None
    spec = {"trainer": trainer, "reward": reward, "data": data, "model_path": model_path, "out_dir": str(out_dir),
            "cfg": OmegaConf.to_container(cfg, resolve=True), "result": str(work_dir / RESULT_FILE)}
    spec_path = work_dir / "launch_spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(cfg.num_processes)]
    if cfg.accelerate_config:
        command += ["--config_file", str(cfg.accelerate_config)]
    else:
        # Plain DDP. accelerate's `--cpu` would start ONE process; its multi-GPU launcher (torchrun)
        # also serves CPUs, where the trainers' use_cpu=True selects gloo (DistributedType.MULTI_CPU).
        command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    command += ["-m", "int_exp.training.launch", str(spec_path)]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
    return json.loads(Path(spec["result"]).read_text())


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[1])
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


def _function(path: str | None) -> Callable[..., list[float]] | None:
    """The function ``module:name`` names (None for None)."""
    if path is None:
        return None
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def main(spec_path: str) -> None:
    from int_exp.training import get_trainer

    spec = json.loads(Path(spec_path).read_text())
    cfg = OmegaConf.create(spec["cfg"])
    history: list[dict] = []

    def log_fn(metrics: dict, step: int) -> None:
        history.append({"step": step, **metrics})

    final = get_trainer(spec["trainer"]).train(spec["data"], spec["model_path"], cfg, Path(spec["out_dir"]),
                                               reward_fn=_function(spec["reward"]), log_fn=log_fn)
    if int(os.environ.get("RANK", "0")) == 0:
        final = {k: v for k, v in final.items() if isinstance(v, (int, float, str))}
        Path(spec["result"]).write_text(json.dumps({"final": final, "history": history}))


if __name__ == "__main__":
    main(sys.argv[1])
