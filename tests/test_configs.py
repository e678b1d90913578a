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

from int_exp.domains.schema import register_configs

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


VARIANT_KEYS = ("sft.enabled", "sft.data", "sft.clone_prefix", "sft.clone_suffix", "rl.enabled", "rl.hints",
                "intervention.correctness_filter")
EXPERIMENTS = sorted(path.stem for path in (CONF / "experiment").glob("*.yaml"))
VARIANTS = sorted(path.stem for path in (CONF / "variant").glob("*.yaml"))


def variant_file_flags(variant: str) -> dict:
    """The variant file's own values for the variant-owned keys (read from the YAML itself)."""
    raw = OmegaConf.load(CONF / "variant" / f"{variant}.yaml")
    return {key: OmegaConf.select(raw, key) for key in VARIANT_KEYS}


def test_every_variant_file_sets_every_variant_owned_key():
    for variant in VARIANTS:
        flags = variant_file_flags(variant)
        assert None not in flags.values(), (variant, flags)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_flags_win_under_every_experiment(variant, experiment):
    cfg = compose_cfg([f"variant={variant}", f"experiment={experiment}"])
    assert cfg.variant.name == variant
    for key, value in variant_file_flags(variant).items():
        assert OmegaConf.select(cfg, key) == value, f"{variant} under experiment={experiment}: {key}"
    overridden = compose_cfg([f"variant={variant}", f"experiment={experiment}", "sft.clone_suffix=true",
                              "intervention.correctness_filter=false"])
    assert overridden.sft.clone_suffix is True and overridden.intervention.correctness_filter is False


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_files_leave_variant_keys_to_the_variant(experiment):
    raw = OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml")
    set_there = [key for key in VARIANT_KEYS if OmegaConf.select(raw, key) is not None]
    assert not set_there, f"conf/experiment/{experiment}.yaml sets variant-owned keys {set_there}"


@pytest.mark.parametrize("variant,flags", [
    ("int_no_filter", {"intervention.correctness_filter": False, "sft.clone_prefix": True}),
    ("int_no_prefix", {"sft.clone_prefix": False, "intervention.correctness_filter": True}),
    ("int_with_suffix", {"sft.clone_suffix": True}),
    ("sft_ref", {"sft.data": "reference"}),
    ("hint_rl", {"sft.enabled": False, "rl.hints": True}),
])
def test_named_ablations_mean_what_they_say(variant, flags):
    for experiment in EXPERIMENTS:
        cfg = compose_cfg([f"variant={variant}", f"experiment={experiment}"])
        for key, value in flags.items():
            assert OmegaConf.select(cfg, key) == value, (variant, experiment, key)


def test_cli_cfg_job_shows_the_no_filter_ablation_under_every_experiment():
    for experiment in EXPERIMENTS:
        out = subprocess.run([sys.executable, "run.py", "variant=int_no_filter", f"experiment={experiment}", 
                              "--cfg", "job"], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        job = OmegaConf.create(out.stdout)
        assert job.intervention.correctness_filter is False, experiment


def test_rl_loss_type_is_the_papers_grpo_unless_set():
    for experiment in EXPERIMENTS:
        assert compose_cfg([f"experiment={experiment}"]).rl.loss_type == "grpo"
    assert compose_cfg(["rl.loss_type=dr_grpo"]).rl.loss_type == "dr_grpo"


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
    out = subprocess.run([sys.executable, "-c", probe], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    elapsed = time.time() - started
    assert "HEAVY []" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert "stages:" in out.stdout
    assert elapsed < 15, f"--cfg job took {elapsed:.1f}s"
    help_out = subprocess.run([sys.executable, "run.py", "--help"], check=False, cwd=ROOT, capture_output=True, text=True,
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
    from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH

    arith = compose_cfg(["experiment=sandbox"]).data.arith
    assert {k: OmegaConf.to_container(arith)[k] for k in SANDBOX_ARITH} == SANDBOX_ARITH


@pytest.mark.parametrize(("overrides", "launcher", "n_jobs"), [
    (["experiment=sandbox"], "JoblibLauncher", 2),
    (["experiment=sandbox_quick"], "JoblibLauncher", 2),
    (["experiment=sandbox", "hydra/launcher=basic"], "BasicLauncher", None),
    (["experiment=smoke"], "BasicLauncher", None),
])
def test_sandbox_sweeps_run_two_jobs_at_a_time_unless_the_command_line_says_otherwise(overrides, launcher, n_jobs):
    hydra_cfg = compose_cfg(overrides, return_hydra_config=True).hydra.launcher
    assert hydra_cfg._target_.rsplit(".", 1)[1] == launcher
    assert hydra_cfg.get("n_jobs") == n_jobs
