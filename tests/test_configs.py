"""Hydra composition: every config file composes against the typed schema; typos fail clearly."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from int_exp.config import register_configs

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
register_configs()

GROUPS = ["model", "data", "backend", "sampling", "intervention", "reflect", "sft", "rl", "eval", "tracking",
          "variant", "experiment", "hparams_search"]


def compose_cfg(overrides: list[str] = (), return_hydra_config: bool = False):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)


def group_options():
    for group in GROUPS:
        for path in sorted((CONF / group).glob("*.yaml")):
            yield group, path.stem


@pytest.mark.parametrize("group,option", list(group_options()))
def test_every_config_file_composes_and_resolves(group, option):
    cfg = compose_cfg([f"{group}={option}"], return_hydra_config=group == "hparams_search")
    if group == "hparams_search":
        assert cfg.hydra.sweeper.params
        OmegaConf.set_struct(cfg, False)
        del cfg["hydra"]
    container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert container["model"]["name_or_path"] and container["data"]["eval"]


def test_every_group_has_files():
    for group in GROUPS:
        assert list((CONF / group).glob("*.yaml")), f"conf/{group} is empty"


def test_misspelt_override_fails_at_composition_naming_the_key():
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(["sft.learning_rat=1e-5"])
    assert "learning_rat" in str(info.value.__cause__ or info.value)


def test_wrong_type_fails_at_composition():
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg(["eval.n=many"])
    assert "eval.n" in str(info.value.__cause__) or "many" in str(info.value.__cause__)


def test_unknown_group_option_fails():
    with pytest.raises(ConfigCompositionException, match="variant"):
        compose_cfg(["variant=int_typo"])


@pytest.mark.parametrize(
    "variant,flags",
    [
        ("base", {"sft.enabled": False, "rl.enabled": False}),
        ("rl_only", {"sft.enabled": False, "rl.enabled": True, "rl.hints": False}),
        ("int", {"sft.data": "interventions", "sft.clone_prefix": True, "sft.clone_suffix": False,
                 "intervention.correctness_filter": True, "rl.enabled": True}),
        ("int_no_prefix", {"sft.clone_prefix": False, "sft.clone_suffix": False}),
        ("int_with_suffix", {"sft.clone_prefix": True, "sft.clone_suffix": True}),
        ("int_no_filter", {"intervention.correctness_filter": False, "sft.data": "interventions"}),
        ("sft_ref", {"sft.data": "reference", "sft.enabled": True}),
        ("sft_reflect", {"sft.data": "reflection", "sft.enabled": True}),
        ("hint_rl", {"sft.enabled": False, "rl.hints": True}),
    ],
)
def test_variants_set_their_flags_and_flags_stay_overridable(variant, flags):
    cfg = compose_cfg([f"variant={variant}", "experiment=smoke"])
    assert cfg.variant.name == variant
    for key, value in flags.items():
        assert OmegaConf.select(cfg, key) == value, key
    overridden = compose_cfg([f"variant={variant}", "sft.clone_suffix=true"])
    assert overridden.sft.clone_suffix is True


def test_experiment_smoke_is_small():
    cfg = compose_cfg(["experiment=smoke"])
    assert cfg.model.name_or_path == "builtin:tiny" and cfg.intervention.proposer == "oracle"
    assert cfg.data.limit <= 16 and cfg.sampling.max_tokens <= 128


def test_help_and_cfg_are_fast_and_import_no_heavy_libraries():
    probe = (
        "import sys, runpy; sys.argv = ['run.py', '--cfg', 'job']\n"
        "try:\n    runpy.run_path('run.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'mlflow', 'trl') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    started = time.time()
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    elapsed = time.time() - started
    assert "HEAVY []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert "stages:" in out.stdout
    assert elapsed < 15, f"--cfg job took {elapsed:.1f}s"
    help_out = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    assert help_out.returncode == 0 and "variant" in help_out.stdout


@pytest.mark.parametrize("data,expected", [("arith", "oracle"), ("gsm8k", "self")])
def test_auto_proposer_is_the_oracle_only_where_the_data_has_one(data, expected):
    from int_exp.cli import resolve_proposer

    cfg = compose_cfg([f"data={data}", "intervention.proposer=auto"])
    resolve_proposer(cfg)
    assert cfg.intervention.proposer == expected


def test_no_argument_run_is_the_sandbox_int_pipeline():
    cfg = compose_cfg([])
    assert (cfg.model.name_or_path, cfg.data.train.source, cfg.variant.name) == ("builtin:sandbox", "arith", "int")
    assert cfg.stages == ["sft", "rl", "eval"] and cfg.intervention.proposer == "auto"
    plain = compose_cfg(["experiment=none"])
    assert plain.model.name_or_path == "builtin:tiny" and plain.intervention.proposer == "self"


def test_sandbox_experiment_uses_the_domain_the_model_is_calibrated_for():
    from int_exp.sandbox import SANDBOX_ARITH

    arith = compose_cfg(["experiment=sandbox"]).data.arith
    assert {k: OmegaConf.to_container(arith)[k] for k in SANDBOX_ARITH} == SANDBOX_ARITH
