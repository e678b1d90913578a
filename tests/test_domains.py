"""Domains through the registry, and a third domain added from outside int_exp: one folder
(tests/toy_domain) and one YAML (its conf/data/toy.yaml), run end to end through `python run.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from int_exp.domains import domain_of, get_domain, grade_by_source, register_domain

ROOT = Path(__file__).resolve().parents[1]
TOY = Path(__file__).resolve().parent / "toy_domain"


def test_sources_find_their_domain_and_files_default_to_math():
    assert domain_of("arith").name == "arith"
    assert domain_of("gsm8k").name == domain_of("math500").name == "math"
    assert domain_of("mine.jsonl").name == domain_of("hf:openai/gsm8k").name == "math"
    assert get_domain("arith").oracle() is not None and get_domain("math").oracle() is None
    assert get_domain("arith").settings_keys("arith") == ["data.arith"] and get_domain("math").settings_keys("gsm8k") == []


def test_each_output_is_graded_by_its_own_domain(monkeypatch):
    sys.path.insert(0, str(TOY.parent))
    try:
        import toy_domain
    finally:
        sys.path.remove(str(TOY.parent))
    monkeypatch.setitem(__import__("int_exp.domains", fromlist=["DOMAINS"]).DOMAINS.items, "toy", toy_domain.DOMAIN)
    # toy compares boxes exactly; math-verify reads 0.5 and 1/2 as equal.
    outputs = [r"\boxed{1/2}", r"\boxed{1/2}", r"\boxed{7}"]
    assert grade_by_source(outputs, ["0.5", "0.5", "7"], ["toy", "gsm8k", "toy"]) == [False, True, True]


def test_register_domain_refuses_what_is_not_a_domain():
    with pytest.raises(TypeError, match="does not implement"):
        register_domain(object())


@pytest.mark.slow  # ~30 s: the whole smoke chain on a toy domain
@pytest.mark.timeout(600)
def test_a_toy_domain_from_one_folder_and_one_yaml_runs_the_smoke_chain(tmp_path):
    cache, store = tmp_path / "cache", tmp_path / "mlflow.db"
    env = {**os.environ, "INT_EXP_DOMAINS": "toy_domain", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(TOY.parent), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "run.py", "experiment=smoke", "data=toy", "variant=int_no_filter",
           f"hydra.searchpath=[file://{TOY / 'conf'}]", f"paths.cache_dir={cache}",
           f"tracking.uri=sqlite:///{store}", f"tracking.artifact_root={tmp_path / 'artifacts'}",
           f"hydra.run.dir={tmp_path / 'run'}"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-4000:]

    def manifest(stage: str) -> dict:
        (entry,) = [p for p in (cache / stage).iterdir() if (p / "manifest.json").exists()]
        return json.loads((entry / "manifest.json").read_text())

    problems = manifest("problems")
    assert problems["metrics"]["funnel/problems"] == 6
    assert "data.toy" in problems["config"] and "data.arith" not in problems["config"]  # the toy's keys, only
    assert manifest("propose")["metrics"]["funnel/proposals"] > 0  # the toy's oracle proposed
    assert manifest("guided_rollouts")["metrics"]["funnel/kept"] > 0  # correctness_filter's cache folder
    assert manifest("sft")["metrics"]["sft/examples"] > 0
    evaluation = manifest("eval")
    assert evaluation["metrics"]["toy/problems"] == 6 and 0.0 <= evaluation["metrics"]["toy/pass_at_1"] <= 1.0
