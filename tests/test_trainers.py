"""The trainer seam: a trainer registered from outside int_exp (tests/toy_trainer: one module and
one YAML) is chosen by config and run by the `sft` stage, which saves what it trained; a trainer's
settings dataclass is its section's schema and its cache-key subset."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError
from safetensors.torch import load_file

from int_exp import training
from int_exp.config import RLConfig
from int_exp.domains.schema import schemas
from int_exp.pipeline.runner import Runner
from int_exp.stages import STAGES
from int_exp.stages.common import trainer_reads
from int_exp.tracking import NullTracker
from int_exp.training.base import section_fields
from int_exp.training.common import own, trl_as, trl_settings
from int_exp.training.grpo_trainer import GRPOSettings
from int_exp.training.sft_trainer import SFTSettings
from tests.test_e2e import smoke

TOY = Path(__file__).resolve().parent / "toy_trainer"


@pytest.fixture
def toy_registered(monkeypatch):
    """Discovery as a plugin sees it: ``$INT_EXP_TRAINERS`` names the module, found on first use."""
    monkeypatch.setenv("INT_EXP_TRAINERS", "tests.toy_trainer")
    monkeypatch.setattr(training.TRAINERS, "items", {})
    monkeypatch.setattr(training.TRAINERS, "discovered", False)


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


@dataclass
class ClippedSettings:
    learning_rate: float = 1e-6  # shared with grpo: the same type and default
    epsilon: float = 0.2  # a new setting: one field
    per_device_batch_size: int = trl_as("per_device_train_batch_size", 8)
    lora_r: int = own(16)


def clipped_trainer(settings: type = ClippedSettings, section: str = "rl") -> training.FunctionTrainer:
    return training.FunctionTrainer(name="clipped", section=section, settings=settings, fn=lambda *a, **k: {})


def test_a_trainer_s_settings_are_its_section_s_schema_and_its_keys(monkeypatch):
    trainers = [training.get_trainer("grpo"), clipped_trainer()]
    schema = dataclasses.make_dataclass("RL", section_fields("rl", RLConfig, trainers), bases=(RLConfig,))
    section = OmegaConf.structured(schema)
    assert section.epsilon == 0.2 and section.beta == 0.0 and section.hints is False and section.learning_rate == 1e-6
    with pytest.raises(ConfigKeyError, match="epsilonn"):
        OmegaConf.merge(section, {"epsilonn": 0.3})  # a typo still fails, naming the key
    with pytest.raises(ValidationError, match="epsilon"):
        OmegaConf.merge(section, {"epsilon": "wide"})
    assert trl_settings(section, ClippedSettings) == {"learning_rate": 1e-6, "epsilon": 0.2,
                                                      "per_device_train_batch_size": 8}

    monkeypatch.setitem(training.TRAINERS.items, "clipped", clipped_trainer())
    cfg = OmegaConf.create({"rl": {"trainer": "clipped"}, "sft": {"trainer": "clipped"}})
    assert trainer_reads(cfg, "rl") == ["rl.learning_rate", "rl.epsilon", "rl.per_device_batch_size", "rl.lora_r",
                                        "rl.trainer"]
    with pytest.raises(ValueError, match="trains from the 'rl' section"):
        trainer_reads(cfg, "sft")


def test_the_builtin_settings_are_in_the_root_schema():
    built = {f.name for f in dataclasses.fields(schemas().RLConfig)}
    assert set(training.settings_keys(GRPOSettings)) | {f.name for f in dataclasses.fields(RLConfig)} == built
    assert set(training.settings_keys(SFTSettings)) <= {f.name for f in dataclasses.fields(schemas().SFTConfig)}


@dataclass
class Redefined:
    learning_rate: float = 0.1  # grpo's default is 1e-6


@dataclass
class Retyped:
    beta: str = "0.0"


@dataclass
class NoDefault:
    epsilon: float


@pytest.mark.parametrize("settings, match", [(Redefined, "rl.learning_rate: trainer 'clipped' declares"),
                                             (Retyped, "rl.beta"), (NoDefault, "rl.epsilon: .* no default")])
def test_a_key_of_a_section_has_one_type_and_one_default(settings, match):
    with pytest.raises(TypeError, match=match):
        section_fields("rl", RLConfig, [training.get_trainer("grpo"), clipped_trainer(settings)])
