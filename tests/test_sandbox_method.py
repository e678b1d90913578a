"""A regression check on the method, not only the code: the sandbox in the paper's regime (model
trained from scratch, rollouts, interventions on unsolved problems, correctness filter, SFT, GRPO
on the same unsolved problems, 256 held-out problems x 8 samples), reduced to three of its
variants and one seed. It asserts the ordering the sandbox supports over base-model and run seeds
(README): InT + RL above plain GRPO with a paired 95% interval above 0, plain GRPO above the base
model, and InT's GRPO groups less often without signal. Slow: 11 minutes on 2 cores
(2026-12-05), 7 of them building the sandbox model.

The second test is the issue's target for self-verification (the model proposing its own
interventions), which the sandbox build does not reach yet: expected to fail (the build's proposals
are right on 2% of its own failures; 30% after a probe recipe the build does not run yet:
docs/results/2026-12-05-sandbox-verification-tail/, and the self-verification folders before it).
``intervention.per_attempt=4`` keeps every distinct proposal of an attempt for the filter to choose
from (the oracle's four are one)."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from tests.test_sweeps import multirun, sweep_runs


def jobs_of(tmp_path, experiment: str = "sandbox") -> dict[str, dict[str, float]]:
    _, parents, children, _ = sweep_runs(tmp_path, experiment)
    return {j.data.tags["variant"]: j.data.metrics for j in children[parents[0].info.run_id]}


@pytest.mark.slow
def test_int_beats_plain_grpo_which_beats_the_base_model(tmp_path):
    out = multirun(tmp_path, "experiment=sandbox", "variant=base,rl_only,int", "seed=0", timeout=3600)
    jobs = jobs_of(tmp_path)
    assert set(jobs) == {"base", "rl_only", "int"}, out.stdout[-2000:]
    pass1 = {v: m["arith/pass_at_1"] for v, m in jobs.items()}
    assert pass1["int"] > pass1["rl_only"] > pass1["base"], pass1
    assert jobs["int"]["rl/mean_frac_reward_zero_std"] < jobs["rl_only"]["rl/mean_frac_reward_zero_std"]
    assert jobs["int"]["intervention/solved_by_continuations"] > jobs["int"]["intervention/solved_by_rollouts"]
    assert jobs["int"]["funnel/kept"] > 0 and jobs["int"]["proposer/right"] == 1.0  # the oracle proposes

    from int_exp.report import write_report

    _, parents, _, _ = sweep_runs(tmp_path, "sandbox")
    tracking = argparse.Namespace(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="sandbox")
    write_report(tracking, tmp_path / "report", parents[0].info.run_id)
    numbers = pd.read_csv(tmp_path / "report" / "comparison_0.csv", index_col=0)
    assert numbers.loc["int", "arith pass@1 vs rl_only (pp) low"] > 0, numbers.loc["int"].to_dict()


@pytest.mark.slow
@pytest.mark.xfail(reason="the sandbox model's own interventions are not yet right often enough "
                          "(docs/results/2026-12-05-sandbox-verification-own/)", strict=False)
def test_self_proposed_interventions_are_parsed_kept_and_fewer_than_the_oracles(tmp_path):
    multirun(tmp_path, "experiment=sandbox", "variant=int", "seed=0", "stages=[correctness_filter]",
             "intervention.proposer=self,oracle", "intervention.per_attempt=4", "model.sandbox.verify_steps=600",
             timeout=3600)
    _, parents, children, _ = sweep_runs(tmp_path, "sandbox")
    by_proposer = {j.data.params["override.intervention.proposer"]: j.data.metrics
                   for j in children[parents[0].info.run_id]}
    own, oracle = by_proposer["self"], by_proposer["oracle"]
    assert own["funnel/proposals"] > 0 and own["funnel/deduplicated"] > 0 and own["funnel/kept"] > 0, own
    assert own["funnel/kept"] < oracle["funnel/kept"], (own, oracle)
    assert own["proposer/right"] > 0.2, own
