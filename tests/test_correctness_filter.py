"""Correctness filtering with a scripted generator: we decide which continuations are right."""

from __future__ import annotations

import pytest

from int_exp.backends.base import continues_final_message
from int_exp.domains.arith.generator import parse_problem
from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import StageContext
from int_exp.stages import STAGES
from int_exp.tracking import NullTracker
from tests.test_e2e import smoke

SAMPLES = 4


def answer_of(problem: str) -> int:
    parsed = parse_problem(problem)
    value = parsed.start
    for op, operand in parsed.ops:
        value = {"+": value + operand, "-": value - operand, "*": value * operand, "/": value // operand}[op]
    return value


class ScriptedBackend:
    """Rollouts: a right start, then a wrong box. Continuations: right for 'even' problems only,
    where exactly half of the samples box the true answer."""

    def generate(self, chats, params, desc=""):
        out = []
        for chat in chats:
            problem = chat[0]["content"]
            start = parse_problem(problem).start
            if not continues_final_message(chat):
                out.append([f"Start: {start}\n\nI am not sure.\n\nThe answer is \\boxed{{-1}}."] * params.n)
            elif answer_of(problem) % 2 == 0:
                right = f"\n\nThe answer is \\boxed{{{answer_of(problem)}}}."
                out.append([right if i % 2 == 0 else "\n\nThe answer is \\boxed{-1}." for i in range(params.n)])
            else:
                out.append(["\n\nThe answer is \\boxed{-1}."] * params.n)
        return out

    def close(self):
        pass


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("filter-cache")


@pytest.fixture
def scripted(monkeypatch):
    monkeypatch.setattr(StageContext, "make_backend", lambda self, *a, **k: ScriptedBackend())


@pytest.mark.parametrize("min_correct,expect_even_kept", [(1, True), (2, True), (3, False)])
def test_filter_keeps_interventions_with_enough_correct_continuations(cache, scripted, min_correct,
                                                                      expect_even_kept):
    cfg = smoke({"cache": cache, "uri": "", "artifacts": cache},
                "stages=[correctness_filter]", "tracking.enabled=false", f"intervention.min_correct={min_correct}",
                f"intervention.filter_samples={SAMPLES}", "data.limit=12")
    results = Runner(cfg, NullTracker(), STAGES).run()
    sampled = results["continuations"].table()
    assert len(sampled) > 0
    even = sampled["problem"].map(lambda p: answer_of(p) % 2 == 0)
    assert even.any() and (~even).any(), "the seeded problems should include both kinds"
    assert list(sampled["guided_correct"]) == [SAMPLES // 2 if e else 0 for e in even]

    kept = results["correctness_filter"].table()
    expected_ids = set(sampled[even]["attempt_id"]) if expect_even_kept else set()
    assert set(kept["attempt_id"]) == expected_ids
    for row in kept.to_dict("records"):  # the stored continuation is a correct one, verbatim
        assert row["guided_completion"] == f"\n\nThe answer is \\boxed{{{answer_of(row['problem'])}}}."
        assert row["guided_completion_correct"]
    assert results["correctness_filter"].metrics["funnel/kept"] == len(expected_ids)
    assert results["correctness_filter"].metrics["funnel/filtered_out"] == len(sampled) - len(expected_ids)


def test_without_the_filter_every_parsed_intervention_is_kept_and_nothing_is_sampled(cache, scripted):
    cfg = smoke({"cache": cache, "uri": "", "artifacts": cache},
                "stages=[correctness_filter]", "tracking.enabled=false", "intervention.correctness_filter=false")
    results = Runner(cfg, NullTracker(), STAGES).run()
    assert "continuations" not in results
    assert len(results["correctness_filter"].table()) == len(results["parse"].table()) > 0


ECHO = ('Substep 1 is wrong.\n<intervention>{"content": "the step the student should write instead", '
        '"location": 1}</intervention>')
REAL = 'Substep 1 is wrong.\n<intervention>{"content": "Let me redo this step carefully.", "location": 1}</intervention>'


class EchoingProposer(ScriptedBackend):
    """A self-proposer whose verification turn echoes the prompt's format example every other time."""

    def generate(self, chats, params, desc=""):
        if not desc.startswith("propose"):
            return super().generate(chats, params, desc)
        if len(chats[0]) == 1:  # turn 1: solving with the reference
            return [["I follow the reference."] * params.n for _ in chats]
        return [[ECHO if i % 2 == 0 else REAL] * params.n for i in range(len(chats))]


def test_parse_drops_interventions_that_echo_the_prompts_format_example(cache, monkeypatch):
    monkeypatch.setattr(StageContext, "make_backend", lambda self, *a, **k: EchoingProposer())
    cfg = smoke({"cache": cache, "uri": "", "artifacts": cache}, "stages=[parse]", "tracking.enabled=false",
                "intervention.proposer=self", "intervention.k=1")
    parse = Runner(cfg, NullTracker(), STAGES).run()["parse"]
    proposals = int(parse.metrics["funnel/parsed"])
    echoed = (proposals + 1) // 2
    assert proposals > 1 and parse.metrics["funnel/copied_prompt"] == echoed
    assert parse.metrics["funnel/deduplicated"] == len(parse.table()) == proposals - echoed
    assert all(i["content"] == "Let me redo this step carefully." for i in parse.table()["intervention"])
    assert list(parse.table("rejected")["reason"]) == ["copied_prompt"] * echoed


def test_sample_report_names_why_each_row_was_dropped():
    import pandas as pd

    from int_exp.stages.correctness_filter import sample_report

    base = {"problem_id": "p1", "incorrect_attempt": "Step one.\n\nStep two.", "proposer_output": "no block here"}
    kept = pd.DataFrame([{**base, "intervention": {"content": "Redo step two.", "location": 2}}])
    dropped = pd.DataFrame([{**base, "intervention": {"content": "Try again.", "location": 1}, "guided_correct": 0}])
    # parquet reads an integer location back as a float beside null interventions
    rejected = pd.DataFrame([{**base, "reason": "copied_prompt", "intervention": {"content": "the step", "location": 1.0}},
                             {**base, "reason": "no_block", "intervention": None}])
    lines = sample_report(kept, dropped, rejected, per_kind=4).splitlines()[4:]
    assert lines == [
        "| p1 | Step one. Step two. | 2 | Redo step two. | kept |",
        "| p1 | Step one. Step two. | 1 | Try again. | dropped: 0 correct continuations |",
        "| p1 | Step one. Step two. | 1 | the step | dropped: copied_prompt |",
        "| p1 | Step one. Step two. | - | no block here | dropped: no_block |",
    ]


def test_intervention_effectiveness_on_a_scripted_case():
    """Rewards before and after on the patched problems only, and problems solved by each."""
    import pandas as pd

    from int_exp.stages.continuations import effectiveness

    rollouts = pd.DataFrame({"problem_id": ["p1", "p2", "p3", "p4"],
                             "verdicts": [[False] * 8, [True] + [False] * 7, [True] * 8, [False] * 8]})
    continued = pd.DataFrame({"problem_id": ["p1", "p1", "p2", "p4"],  # p3 had no failure to patch
                              "continuation_verdicts": [[True, False, False, False], [False] * 4,
                                                        [True, True, False, False], [False] * 4]})
    metrics = effectiveness(continued, rollouts)
    assert metrics["intervention/problems"] == 3
    assert metrics["intervention/rollout_reward"] == 1 / 24  # p3's correct rollouts do not count
    assert metrics["intervention/continuation_reward"] == 3 / 16
    assert metrics["intervention/effectiveness"] == (3 / 16) / (1 / 24)
    assert (metrics["intervention/solved_by_rollouts"], metrics["intervention/solved_by_continuations"]) == (1, 2)
    unsolved = rollouts.assign(verdicts=[[False] * 8] * 4)
    assert "intervention/effectiveness" not in effectiveness(continued, unsolved)  # 0 before: no ratio


def test_parse_drops_an_intervention_that_is_the_step_it_replaces():
    """``unchanged``: the content is the replaced step itself (whitespace aside), so it corrects
    nothing; a different step at that location, or a repeat of another step, is judged as usual."""
    from int_exp.interventions.steps import split_steps
    from int_exp.stages.parse import why_unusable

    attempt = "Start: 5\n\n5 + 3 = 8\n\n8 * 2 = 17\n\nThe answer is \\boxed{17}."

    def why(content: str, location: int) -> str | None:
        return why_unusable({"content": content, "location": location}, split_steps(attempt), "99", "", "arith")

    assert why("8 * 2 = 17", 3) == "unchanged"
    assert why("  8 * 2 = 17\n", 3) == "unchanged"
    assert why("8 * 2 = 16", 3) is None
    assert why("5 + 3 = 8", 3) is None
    assert why("8 * 2 = 17", 2) is None
    assert why("The answer is \\boxed{99}.", 4) == "leaked"
