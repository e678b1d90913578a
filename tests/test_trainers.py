"""The trainer seam: a trainer registered from outside int_exp (tests/toy_trainer: one module and
one YAML) is chosen by config and run by the `sft` stage, which saves what it trained."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from int_exp import training
from int_exp.pipeline.runner import Runner
from int_exp.stages import STAGES
from int_exp.tracking import NullTracker
from tests.test_e2e import smoke

TOY = Path(__file__).resolve().parent / "toy_trainer"


@pytest.fixture
def toy_registered(monkeypatch):
    """Discovery as a plugin sees it: ``$INT_EXP_TRAINERS`` names the module, found on first use."""
    monkeypatch.setenv("INT_EXP_TRAINERS", "tests.toy_trainer")
    monkeypatch.setattr(training, "_REGISTRY", {})
    monkeypatch.setattr(training, "_DISCOVERED", False)


def test_the_builtin_trainers_and_a_plugin_are_found_by_name(toy_registered):
    assert {"sft", "grpo", "toy"} <= {t.name for t in training.all_trainers()}
    assert training.get_trainer("toy").reads == ("learning_rate", "epochs", "seed", "max_length")
    with pytest.raises(KeyError, match="unknown trainer 'nope'"):
        training.get_trainer("nope")
    with pytest.raises(TypeError):
        training.register_trainer(object())


def test_a_plugin_trainer_runs_through_the_sft_stage(toy_registered, tmp_path):
    data = tmp_path / "sft.jsonl"
    rows = [{"problem": f"What is {a} plus 2?", "intervention_guided_attempt": f"Start from {a}.\n\nAdd 2."}
            for a in (1, 2, 3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    workspace = {"cache": tmp_path / "cache", "uri": "", "artifacts": tmp_path, "device": []}
    cfg = smoke(workspace, f"hydra.searchpath=[file://{TOY / 'conf'}]", "sft=toy", "variant=int_published",
                f"sft.source={data}", "stages=[sft]", "tracking.enabled=false", "sft.learning_rate=0.05", "sft.epochs=2")
    assert cfg.sft.trainer == "toy"  # from conf/sft/toy.yaml (experiment=smoke sets the rate and epochs)
    results = Runner(cfg, NullTracker(), STAGES).run()

    assert set(results) == {"model", "sft"}
    sft = results["sft"]
    assert "sft.trainer" in sft.manifest["config"]  # a non-default trainer enters the cache key
    assert sft.metrics["sft/steps"] == 2 * 3 and sft.metrics["sft/examples"] == 3
    trained = sft.dir / "model"
    losses = json.loads((trained / "toy_trainer.json").read_text())["losses"]
    assert len(losses) == 6 and sft.metrics["sft/last_loss"] == losses[-1] < losses[0] == sft.metrics["sft/first_loss"]
    before = load_file(results["model"].dir / "model" / "model.safetensors")
    after = load_file(trained / "model.safetensors")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[name], after[name]) for name in before)  # the weights moved
    assert pd.read_parquet(next(sft.dir.glob("*.parquet")))["target"].str.startswith("Start from").all()
