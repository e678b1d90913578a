# The self proposer's accuracy on its own failures, split by whether its turn 1 (the problem and
# its reference, answered by the model) was the exact detailed solution.
#   python docs/results/2026-12-05-sandbox-verification-tail/turn1_split.py CACHE_DIR
# (CACHE_DIR: the INT_EXP_CACHE of a sweep with intervention.proposer=self)
import glob
import json
import sys
from pathlib import Path

import pandas as pd

from int_exp.domains.arith.oracle import oracle_intervention
from int_exp.domains.arith.problem import parse_problem
from int_exp.interventions.judging import judge_proposal, summarize
from int_exp.interventions.steps import split_steps

for table in glob.glob(sys.argv[1] + "/propose/*/main.parquet"):
    if '"self"' not in (Path(table).parent / "manifest.json").read_text():
        continue
    rows = pd.read_parquet(table)
    groups = {True: [], False: []}
    for _, row in rows.iterrows():
        turn1 = json.loads(row.proposer_prompt)[1]["content"]
        exact = turn1.strip() == parse_problem(row.problem).detailed()
        oracle = oracle_intervention(row, row.incorrect_attempt)
        groups[exact].append(judge_proposal(row.proposer_output, oracle, len(split_steps(row.incorrect_attempt))))
    for exact, judged in groups.items():
        print("turn 1 exact" if exact else "turn 1 not exact", len(judged),
              {k: round(v, 3) for k, v in summarize(judged).items()})
