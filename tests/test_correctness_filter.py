"""Correctness filtering with a scripted generator: we decide which continuations are right."""

from __future__ import annotations

import pytest

from int_exp.arith import parse_problem
from int_exp.backends.base import continues_final_message
from int_exp.pipeline.runner import Runner
from int_exp.pipeline.stage import StageContext
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
                "stages=[guided_rollouts]", "tracking.enabled=false", f"intervention.min_correct={min_correct}",
                f"intervention.filter_samples={SAMPLES}", "data.limit=12")
    results = Runner(cfg, NullTracker()).run()
    sampled = results["guided_sampling"].table()
    assert len(sampled) > 0
    even = sampled["problem"].map(lambda p: answer_of(p) % 2 == 0)
    assert even.any() and (~even).any(), "the seeded problems should include both kinds"
    assert list(sampled["guided_correct"]) == [SAMPLES // 2 if e else 0 for e in even]

    kept = results["guided_rollouts"].table()
    expected_ids = set(sampled[even]["attempt_id"]) if expect_even_kept else set()
    assert set(kept["attempt_id"]) == expected_ids
    for row in kept.to_dict("records"):  # the stored continuation is a correct one, verbatim
        assert row["guided_completion"] == f"\n\nThe answer is \\boxed{{{answer_of(row['problem'])}}}."
        assert row["guided_completion_correct"]
    assert results["guided_rollouts"].metrics["funnel/kept"] == len(expected_ids)
    assert results["guided_rollouts"].metrics["funnel/filtered_out"] == len(sampled) - len(expected_ids)


def test_without_the_filter_every_parsed_intervention_is_kept_and_nothing_is_sampled(cache, scripted):
    cfg = smoke({"cache": cache, "uri": "", "artifacts": cache},
                "stages=[guided_rollouts]", "tracking.enabled=false", "intervention.correctness_filter=false")
    results = Runner(cfg, NullTracker()).run()
    assert "guided_sampling" not in results
    assert len(results["guided_rollouts"].table()) == len(results["parse"].table()) > 0
