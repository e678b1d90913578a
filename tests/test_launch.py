"""Multi-process training through `accelerate launch` (2 CPU processes, gloo): the path a 4-GPU node takes."""

from __future__ import annotations

import json

import pytest

from int_exp.cli import run_job
from tests.test_e2e import smoke


@pytest.mark.slow
def test_sft_with_two_processes_runs_under_accelerate(tmp_path):
    workspace = {"cache": tmp_path / "cache", "uri": f"sqlite:///{tmp_path}/mlflow.db", "artifacts": tmp_path}
    run_job(smoke(workspace, "stages=[sft]", "sft.num_processes=2"))
    (entry,) = [p for p in (tmp_path / "cache" / "sft").iterdir() if (p / "manifest.json").exists()]
    result = json.loads((entry / "launch_result.json").read_text())
    manifest = json.loads((entry / "manifest.json").read_text())
    examples = manifest["tables"]["main"]["rows"]
    # Two processes of per_device_batch_size 4: each step consumes 8 examples.
    assert result["final"]["steps"] == -(-examples // 8)
    assert result["history"] and all(h["loss"] > 0 for h in result["history"] if "loss" in h)
    assert (entry / "model" / "model.safetensors").exists()
    assert manifest["metrics"]["sft/steps"] == result["final"]["steps"]
