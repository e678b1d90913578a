"""The paper's data and its published stages, without network: local parquet files with exactly
the authors' columns stand in for the hub sets and go through the same loader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from int_exp.cli import run_job
from int_exp.data import load_dataset_spec
from int_exp.pipeline.plan import execution_order, make_plan, plan_keys
from int_exp.stages import STAGES
from int_exp.stages.common import problem_chat
from tests.test_configs import compose_cfg
from tests.test_e2e import last_job, smoke, workspace_at


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, device):
    """One cache and MLflow store for this module's jobs (the tiny model is built once)."""
    return workspace_at(tmp_path_factory.mktemp("paper"), device)

PROBLEMS = [("What is 2 + 3?", "5"), ("What is 7 - 4?", "3"), ("What is 6 * 2?", "12")]
# The authors' sets, column for column (the issue's reading of their scripts).
AUTHORS = {
    "InT-hard-set": ["problem", "answer", "solution"],
    "InT-hard-set-with-incorrect-attempts": ["problem", "answer", "solution", "incorrect_attempt"],
    "InT-SFT": ["problem", "intervention_guided_attempt"],
    "InT-RL": ["problem", "answer", "source"],
    "InT-test-set": ["problem", "answer", "source"],
}
BENCHMARKS = ["IMO-AnswerBench", "HMMT'25 Nov", "AMO-Bench", "Apex Shortlist"]


def cell(column: str, i: int) -> str:
    problem, answer = PROBLEMS[i % len(PROBLEMS)]
    return {"problem": problem, "answer": answer, "solution": f"Step 1.\n\nSo \\boxed{{{answer}}}",
            "incorrect_attempt": f"Step 1.\n\nSo the answer is {int(answer) + 1}.",
            "intervention_guided_attempt": "Step 1.\n\nWait, recompute the last step carefully.",
            "source": BENCHMARKS[i % len(BENCHMARKS)]}[column]


def stand_in(folder: Path, name: str, rows: int = 3, drop: str | None = None) -> str:
    """``<name>.parquet`` with the authors' columns of ``name`` (less ``drop``), ``rows`` rows."""
    columns = [c for c in AUTHORS[name] if c != drop]
    path = folder / f"{name}{'-no-' + drop if drop else ''}.parquet"
    pd.DataFrame({c: [cell(c, i) for i in range(rows)] for c in columns}).to_parquet(path)
    return str(path)


# -- the paper's configuration ---------------------------------------------------------------


def test_paper_experiment_reads_the_authors_sets_and_asks_with_the_raw_problem():
    cfg = compose_cfg(["experiment=paper"])
    assert (cfg.data.train.source, cfg.data.train.split) == ("hf:CMU-AIRe/InT-hard-set", "train")
    assert OmegaConf.to_container(cfg.data.train.columns) == {"reference_solution": "solution"}
    assert [(s.source, s.split) for s in cfg.data.eval] == [("hf:CMU-AIRe/InT-test-set", "test")]
    assert problem_chat("Find x.", cfg.data.prompt_template) == [{"role": "user", "content": "Find x."}]
    assert "\\boxed{}" in compose_cfg(["data=math500"]).data.prompt_template  # other data keeps its own
    published = compose_cfg(["experiment=paper", "variant=int_published"])
    assert (published.sft.data, published.sft.source) == ("published", "hf:CMU-AIRe/InT-SFT")


def test_stand_ins_of_the_train_and_test_sets_load_through_the_paper_config(tmp_path):
    cfg = compose_cfg(["experiment=paper"])
    train = load_dataset_spec({**cfg.data.train, "source": stand_in(tmp_path, "InT-hard-set")}, cfg.data, train=True)
    assert train["reference_solution"].str.contains("boxed").all()
    test = load_dataset_spec({**cfg.data.eval[0], "source": stand_in(tmp_path, "InT-test-set", 8)}, cfg.data, train=False)
    assert sorted(set(test["benchmark"])) == sorted(BENCHMARKS)
    assert test["source"].str.endswith(".parquet").all()  # graded as math, not by a benchmark name


def test_a_missing_column_stops_the_job_before_any_work_naming_set_column_and_columns_found(workspace, tmp_path):
    path = stand_in(tmp_path, "InT-hard-set-with-incorrect-attempts", drop="solution")
    cfg = smoke(workspace, "stages=[failures]", f"failures.source={path}",
                "+failures.source_columns.reference_solution=solution")
    with pytest.raises(ValueError) as info:
        run_job(cfg)
    message = str(info.value)
    assert "nothing was run" in message and f"failures.source={path}" in message
    assert "column 'solution'" in message
    assert "found columns: ['problem', 'answer', 'incorrect_attempt']" in message
    cfg = smoke(workspace, "data=int_paper", f"data.train.source={stand_in(tmp_path, 'InT-hard-set', drop='solution')}")
    from int_exp.input_checks import data_problems

    cfg.data.eval = []
    assert any("data.train.source=" in p and "column 'solution'" in p for p in data_problems(cfg))


# -- entry at each published stage ------------------------------------------------------------


def entry_of(stages: dict, name: str) -> dict:
    import json

    return json.loads((Path(stages[name].data.tags["cache_dir"]) / "manifest.json").read_text())


def table_of(stages: dict, name: str) -> pd.DataFrame:
    return pd.read_parquet(Path(stages[name].data.tags["cache_dir"]) / entry_of(stages, name)["tables"]["main"]["file"])


def test_failures_from_the_published_attempts_sample_no_rollouts_and_name_their_file(workspace, tmp_path):
    path = stand_in(tmp_path, "InT-hard-set-with-incorrect-attempts", rows=4)
    overrides = [f"failures.source={path}", "+failures.source_columns.reference_solution=solution"]
    run_job(smoke(workspace, "stages=[failures]", *overrides))
    _, job, stages = last_job(workspace)
    assert set(stages) == {"failures"}  # no model, no problems, no rollouts
    table = table_of(stages, "failures")
    assert len(table) == 4 and table["problem_id"].nunique() == 3  # row 4 repeats problem 1
    assert list(table["attempt_id"].str.rsplit("#", n=1).str[1]) == ["0", "0", "0", "1"]
    for run in (job, stages["failures"]):
        assert run.data.tags["lineage.failures.source"].startswith(f"{path} sha256 ")
    assert entry_of(stages, "failures")["config"]["failures.source"] == path

    cfg = smoke(workspace, "variant=rl_only", "rl.problems=unsolved", "stages=[rl]", *overrides)
    order = execution_order(cfg, make_plan(cfg, STAGES), STAGES)
    assert "rollouts" not in order and "failures" in order  # RL's hard set: the published problems
    chain = smoke(workspace, "stages=[correctness_filter]", *overrides)
    assert "rollouts" not in execution_order(chain, make_plan(chain, STAGES), STAGES)


def test_published_sets_enter_the_cache_key_by_file_content_or_hub_id_and_revision(workspace, tmp_path):
    path = stand_in(tmp_path, "InT-hard-set-with-incorrect-attempts")

    def key(source: str) -> str:
        return plan_keys(smoke(workspace, "stages=[failures]", f"failures.source={source}"), STAGES)["failures"]

    before = key(path)
    pd.read_parquet(path).iloc[:2].to_parquet(path)  # same name, other rows
    assert key(path) != before
    assert len({key("hf:CMU-AIRe/InT-hard-set-with-incorrect-attempts"), key("hf:CMU-AIRe/x@a1"),
                key("hf:CMU-AIRe/x@b2")}) == 3


def test_sft_on_the_published_intervention_guided_attempts(workspace, tmp_path):
    path = stand_in(tmp_path, "InT-SFT")
    run_job(smoke(workspace, "variant=int_published", f"sft.source={path}", "stages=[sft]"))
    _, job, stages = last_job(workspace)
    assert set(stages) == {"model", "sft"}  # none of our rollouts, proposals or filters
    assert job.data.metrics["sft/examples"] == 3
    examples = table_of(stages, "sft")
    assert (examples["target"] == cell("intervention_guided_attempt", 0)).all() and not examples["eos"].any()
    assert job.data.tags["lineage.sft.source"].startswith(f"{path} sha256 ")


def test_grpo_on_the_published_rl_problems(workspace, tmp_path):
    path = stand_in(tmp_path, "InT-RL")
    run_job(smoke(workspace, "variant=rl_only", f"rl.source={path}", "+rl.source_columns.origin=source",
                  "stages=[rl]"))
    _, job, stages = last_job(workspace)
    assert set(stages) == {"model", "rl"}
    assert job.data.metrics["rl/problems"] == 3
    assert job.data.tags["lineage.rl.source"].startswith(f"{path} sha256 ")


def test_sft_on_published_data_needs_its_set_and_the_papers_target_shape():
    from int_exp.checks import settings_problems

    problems = settings_problems(compose_cfg(["variant=int_published", "sft.source=null", "sft.clone_suffix=true"]))
    assert any(p.startswith("sft.data=published: needs sft.source") for p in problems)
    assert any("clone_suffix=True" in p for p in problems)
    assert not [p for p in settings_problems(compose_cfg(["variant=int_published"])) if "published" in p]
