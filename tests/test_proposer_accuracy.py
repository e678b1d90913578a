"""The proposer's accuracy against the oracle (int_exp/interventions/judging.py) and where the
pipeline logs it: the parse stage's ``proposer/*`` metrics and ``oracle_right`` column, and the
correctness filter's share of right interventions among those it keeps and drops."""

from __future__ import annotations

import pandas as pd
import pytest

from int_exp.domains.arith.oracle import oracle_intervention
from int_exp.interventions.judging import judge_proposal, summarize
from int_exp.interventions.steps import format_intervention, join_steps
from int_exp.stages.correctness_filter import oracle_shares
from int_exp.stages.parse import judged_against_oracle

PROBLEM = "Start with 17. Add 25, then multiply by 3, then subtract 40. What is the result?"
ATTEMPT = join_steps(["Start: 17", "17 + 25 = 42", "42 * 3 = 136", "136 - 40 = 96", "The answer is \\boxed{96}."])
ORACLE = oracle_intervention({"problem": PROBLEM, "answer": "86"}, ATTEMPT)


@pytest.mark.parametrize(("proposal", "expected"), [
    (format_intervention("42 * 3 = 126", 3), (True, False, True, True, True)),
    ("log...\n" + format_intervention(" 42 * 3  =  126 ", 3), (True, False, True, True, True)),  # whitespace aside
    (format_intervention("42 * 3 = 127", 3), (True, False, True, False, False)),
    (format_intervention("42 * 3 = 126", 4), (True, False, False, True, False)),
    (format_intervention("", 0), (False, True, False, False, False)),
    ("no block at all", (False, False, False, False, False)),
])
def test_a_proposal_is_judged_by_location_and_content(proposal, expected):
    judgement = judge_proposal(proposal, ORACLE, 5)
    assert (judgement.parsed, judgement.empty, judgement.right_location, judgement.right_content,
            judgement.right) == expected


def test_the_summary_gives_shares():
    judged = [judge_proposal(format_intervention("42 * 3 = 126", 3), ORACLE, 5),
              judge_proposal(format_intervention("42 * 3 = 126", 2), ORACLE, 5),
              judge_proposal("nothing", ORACLE, 5), judge_proposal(format_intervention("x", 3), ORACLE, 5)]
    assert summarize(judged) == {"proposals": 4, "parsed": 0.75, "empty": 0.0, "right_location": 0.5,
                                 "right_content": 0.5, "right": 0.25}


def test_the_parse_stage_judges_arith_proposals_and_not_math_ones():
    rows = [{"source": "arith", "problem": PROBLEM, "answer": "86", "incorrect_attempt": ATTEMPT,
             "proposer_output": format_intervention(content, 3)} for content in ("42 * 3 = 126", "wrong")]
    rows.append({"source": "gsm8k", "problem": "p", "answer": "1", "incorrect_attempt": "a",
                 "proposer_output": format_intervention("x", 1)})
    right, metrics = judged_against_oracle(rows)
    assert right == [True, False, None]
    assert metrics["proposer/right"] == 0.5 and metrics["proposer/right_location"] == 1.0
    assert metrics["proposer/parsed"] == 1.0 and metrics["proposer/empty"] == 0.0


def test_the_filter_reports_the_right_share_of_what_it_keeps_and_drops():
    kept = pd.DataFrame({"oracle_right": [True, True, False, None]})
    dropped = pd.DataFrame({"oracle_right": [False, False, True, False]})
    assert oracle_shares(kept, dropped) == {"proposer/right_kept_by_filter": pytest.approx(2 / 3),
                                            "proposer/right_filtered_out_by_filter": 0.25}
    assert oracle_shares(pd.DataFrame({"x": [1]}), pd.DataFrame()) == {}
