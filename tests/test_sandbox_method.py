"""A regression check on the method, not only the code: the sandbox in the paper's regime (model
trained from scratch, with self-verification; rollouts; the model's own interventions on unsolved
problems, correctness filter, SFT, GRPO on the same unsolved problems, 256 held-out problems x 8
samples), reduced to three of its variants and one seed. It asserts the ordering the sandbox
supports over seeds (README): InT + RL above plain GRPO with a paired 95% interval above 0, plain
GRPO above the base model, InT's GRPO groups less often without signal, and self-proposed
interventions that parse and survive the filter, fewer of them than the exact step checker's
(whose interventions are right by definition).
Slow: ~20 minutes on 2 cores, half of it building the sandbox model."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from tests.test_sweeps import multirun, sweep_runs


@pytest.mark.slow
def test_int_beats_plain_grpo_which_beats_the_base_model(tmp_path):
    out = multirun(tmp_path, "experiment=sandbox", "variant=base,rl_only,int", "seed=0", timeout=3600)
    _, parents, children, _ = sweep_runs(tmp_path, "sandbox")
    jobs = {j.data.tags["variant"]: j.data.metrics for j in children[parents[0].info.run_id]}
    assert set(jobs) == {"base", "rl_only", "int"}, out.stdout[-2000:]
    pass1 = {v: m["arith/pass_at_1"] for v, m in jobs.items()}
    assert pass1["int"] > pass1["rl_only"] > pass1["base"], pass1
    assert jobs["int"]["rl/mean_frac_reward_zero_std"] < jobs["rl_only"]["rl/mean_frac_reward_zero_std"]
    assert jobs["int"]["intervention/solved_by_continuations"] > jobs["int"]["intervention/solved_by_rollouts"]

    own = jobs["int"]
    assert own["funnel/proposals"] > 0 and own["funnel/parsed"] > 0 and own["funnel/deduplicated"] > 0, own
    assert own["funnel/kept"] > 0, own
    assert 0 < own["proposer/right"] < 1
    # The exact step checker on the same failures: every one of its proposals is right, and more survive.
    multirun(tmp_path, "experiment=sandbox", "variant=int", "seed=0", "intervention.proposer=oracle",
             "stages=[correctness_filter]", name="oracle", timeout=1800)
    _, parents, children, _ = sweep_runs(tmp_path, "sandbox")
    oracle = next(j.data.metrics for p in parents for j in children[p.info.run_id]
                  if "intervention.proposer=oracle" in j.data.params.get("overrides", ""))
    assert oracle["proposer/right"] == 1.0
    assert own["funnel/kept"] < oracle["funnel/kept"], (own, oracle)

    from int_exp.report import write_report

    tracking = argparse.Namespace(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="sandbox")
    sweep = next(p for p in parents if not any("oracle" in j.data.params.get("overrides", "")
                                               for j in children[p.info.run_id]))
    write_report(tracking, tmp_path / "report", sweep.info.run_id)
    numbers = pd.read_csv(tmp_path / "report" / "comparison_0.csv", index_col=0)
    assert numbers.loc["int", "arith pass@1 vs rl_only (pp) low"] > 0, numbers.loc["int"].to_dict()
