"""A regression check on the method, not only the code: the sandbox in the paper's regime (model
trained from scratch, rollouts, oracle interventions on unsolved problems, correctness filter,
SFT, GRPO on the same unsolved problems, 256 held-out problems x 8 samples), reduced to three of
its variants and one seed. It asserts the ordering the sandbox supports with 3 seeds (README):
InT + RL above plain GRPO with a paired 95% interval above 0, plain GRPO above the base model,
and InT's GRPO groups less often without signal. Slow: ~20 minutes on 2 cores, half of it
building the sandbox model."""

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

    from int_exp.report import write_report

    tracking = argparse.Namespace(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="sandbox")
    write_report(tracking, tmp_path / "report", parents[0].info.run_id)
    numbers = pd.read_csv(tmp_path / "report" / "comparison_0.csv", index_col=0)
    assert numbers.loc["int", "arith pass@1 vs rl_only (pp) low"] > 0, numbers.loc["int"].to_dict()
