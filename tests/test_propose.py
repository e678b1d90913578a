"""The propose stage as the paper's script runs it: one solving turn per failed attempt, k
verification samples from it, the prompt's five parts, the proposer's own sampling settings."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from int_exp.interventions import number_steps, parse_intervention_reason, proposer_turn1, proposer_turn2
from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import StageContext
from int_exp.stages import STAGES
from int_exp.tracking import NullTracker
from tests.test_configs import compose_cfg
from tests.test_e2e import smoke

ROW = {"problem": "Compute $3 + 4 \\times 2$.", "reference_solution": "Multiply first: $4 \\times 2 = 8$.\n\nThen add 3.",
       "incorrect_attempt": "First, 3 + 4 = 7.\n\nThen 7 times 2 is 14.\n\nSo the answer is $\\boxed{14}$.",
       "answer": "11"}

# The parts of the verification turn, in the paper's order (a-e), as phrases of the default prompt.
PARTS = {
    "a_verification_log": ["Verification log", "substep by substep", "quote"],
    "b_first_critical_error": ["first critical error", "invalidates the line of reasoning", "never recovers"],
    "c_intervention": ["inserted before the substep", "student's point of view", "must not give the final answer away",
                       "sketches the next steps"],
    "d_draft_selfcheck_revision": ["draft", "contain the correct final answer", "miss a key insight",
                                   "location later than", "revise", "all three answers are No"],
    "e_empty_when_no_error": ["no critical error", '<intervention>{"content": "", "location": 0}</intervention>'],
}


def rendered_turns():
    icfg = compose_cfg(["experiment=none"]).intervention  # the paper's prompt (the sandbox has its own)
    turn1 = proposer_turn1(ROW["problem"], ROW["reference_solution"], icfg.prompt)
    turn2, _ = proposer_turn2(turn1, "My solution ... \\boxed{11}", ROW["incorrect_attempt"], ROW["answer"], icfg.prompt)
    return turn1, turn2


def test_both_turns_render_with_the_papers_parts_in_order():
    turn1, turn2 = rendered_turns()
    assert [m["role"] for m in turn2] == ["user", "assistant", "user"] and turn2[:1] == turn1
    assert ROW["problem"] in turn1[0]["content"] and ROW["reference_solution"] in turn1[0]["content"]
    verify = turn2[-1]["content"]
    assert number_steps(ROW["incorrect_attempt"]) in verify
    assert "**Substep 1:** First, 3 + 4 = 7." in verify and "**Substep 3:**" in verify and "**Substep 4:**" not in verify
    assert "The correct final answer, 11," not in verify and "answer, 11, or" in verify
    positions = []
    for part, phrases in PARTS.items():
        for phrase in phrases:
            assert phrase.lower() in verify.lower(), (part, phrase)
        positions.append(verify.lower().index(phrases[0].lower()))
    assert positions == sorted(positions), "the parts are not in the paper's order"
    # the prompt's own last block is the empty intervention: an echo of the prompt proposes nothing
    assert parse_intervention_reason(verify, 3) == (None, "empty_content")


class RecordingProposer:
    """Answers the two proposer turns, recording what each generate call asked for."""

    calls: list = []  # noqa: RUF012 - reset by each test

    def generate(self, chats, params, desc=""):
        RecordingProposer.calls.append((desc, len(chats), params))
        if desc.startswith("propose: solve"):
            return [[f"solution {i}.{j} \\boxed{{0}}" for j in range(params.n)] for i in range(len(chats))]
        return [[f'Substep 1 is wrong.\n<intervention>{{"content": "Redo it ({j}).", "location": 1}}</intervention>'
                 for j in range(params.n)] for _ in chats]

    def close(self):
        pass


@pytest.mark.parametrize("solve_samples,k", [(1, 3), (2, 2)])
def test_k_verifications_share_one_solving_sample(tmp_path, monkeypatch, solve_samples, k):
    RecordingProposer.calls = []
    monkeypatch.setattr(StageContext, "make_backend", lambda self, *a, **kw: RecordingProposer())
    cfg = smoke({"cache": tmp_path, "uri": "", "artifacts": tmp_path}, "stages=[propose]", "tracking.enabled=false",
                "intervention.proposer=self", f"intervention.k={k}", f"intervention.solve_samples={solve_samples}",
                "intervention.sampling.temperature=0.6", "intervention.sampling.max_tokens=40")
    results = Runner(cfg, NullTracker(), STAGES).run()
    failures, proposals = results["failures"].table(), results["propose"].table()
    propose_calls = [c for c in RecordingProposer.calls if c[0].startswith("propose")]
    (_, solve_chats, solve_params), (_, verify_chats, verify_params) = propose_calls
    assert solve_chats == len(failures) and solve_params.n == solve_samples
    assert verify_chats == len(failures) * solve_samples and verify_params.n == k
    # the proposer's own sampling, not the rollouts'
    assert solve_params.temperature == verify_params.temperature == 0.6 and solve_params.max_tokens == 40
    assert len(proposals) == len(failures) * solve_samples * k == results["propose"].metrics["funnel/proposals"]
    for _, group in proposals.groupby("attempt_id"):
        assert sorted(group["proposal_index"]) == list(range(solve_samples * k))
        for _, same_solve in group.groupby("solve_index"):
            solving_answers = {json.loads(p)[1]["content"] for p in same_solve["proposer_prompt"]}
            assert len(solving_answers) == 1 and sorted(same_solve["verify_index"]) == list(range(k))
        assert group["solve_index"].nunique() == solve_samples


def test_paper_experiment_has_the_papers_proposer_settings():
    icfg = compose_cfg(["experiment=paper"]).intervention
    sampling = OmegaConf.to_container(icfg.sampling)
    assert (icfg.solve_samples, icfg.k) == (1, 4)
    assert {k: sampling[k] for k in ("temperature", "top_p", "top_k", "max_tokens")} == {
        "temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 16384}
    sandbox = compose_cfg(["experiment=sandbox"])
    assert sandbox.intervention.sampling.max_tokens == 448  # the longest log and block: ~350 characters
    assert sandbox.intervention.prompt.turn2 == sandbox.model.sandbox.prompt_turn2  # the model's own prompt


def test_sample_report_shows_the_rendered_prompts_and_parse_counts_location_kinds(tmp_path, monkeypatch):
    monkeypatch.setattr(StageContext, "make_backend", lambda self, *a, **kw: RecordingProposer())
    cfg = smoke({"cache": tmp_path, "uri": "", "artifacts": tmp_path}, "stages=[correctness_filter]",
                "tracking.enabled=false", "intervention.proposer=self", "intervention.k=2",
                "intervention.correctness_filter=false", "intervention.sampling.max_tokens=64")
    results = Runner(cfg, NullTracker(), STAGES).run()
    parse = results["parse"]
    assert parse.metrics["funnel/location_integer"] == parse.metrics["funnel/parsed"] > 0
    assert parse.metrics["funnel/location_label"] == 0
    report = next(f for f in results["correctness_filter"].files if f.name == "sample_interventions.md").read_text()
    assert "## The proposer's prompt (first proposal)" in report
    assert "**Substep 1:**" in report and "## 4. Draft, self-check, revision" in report
    assert "### user" in report and "### assistant" in report and "solution 0.0" in report
