"""The leak filter against a corpus of realistic interventions (tests/corpora/leak_cases.py)."""

from __future__ import annotations

import pytest

from int_exp.interventions import leaks_answer
from tests.corpora.leak_cases import CORE, LEAK_CASES

MIN_CASES = 80
MIN_AGREEMENT = 0.95

_BY_ID = {case["id"]: case for case in LEAK_CASES}


def test_corpus_shape():
    ids = [case["id"] for case in LEAK_CASES]
    assert len(ids) >= MIN_CASES
    assert len(set(ids)) == len(ids), "duplicate ids"
    for case in LEAK_CASES:
        assert set(case) == {"id", "content", "answer", "leaks", "why"}, case["id"]
        assert isinstance(case["leaks"], bool), case["id"]
    assert set(CORE) <= set(_BY_ID), sorted(set(CORE) - set(_BY_ID))
    assert len(set(CORE)) == len(CORE)


def test_corpus_agreement():
    mismatches = []
    for case in LEAK_CASES:
        got = leaks_answer(case["content"], case["answer"])
        if got != case["leaks"]:
            mismatches.append(case | {"got": got})
    share = 1 - len(mismatches) / len(LEAK_CASES)
    report = "\n".join(
        f"  {m['id']}: answer={m['answer']!r} expected={m['leaks']} got={m['got']} ({m['why']})\n"
        f"      content={m['content']!r}"
        for m in mismatches
    )
    assert share >= MIN_AGREEMENT, (
        f"agreement {share:.3f} < {MIN_AGREEMENT} "
        f"({len(mismatches)}/{len(LEAK_CASES)} mismatches):\n{report}"
    )


@pytest.mark.parametrize("case_id", CORE)
def test_core_case(case_id):
    case = _BY_ID[case_id]
    got = leaks_answer(case["content"], case["answer"])
    assert got == case["leaks"], (
        f"{case_id}: answer={case['answer']!r} expected={case['leaks']} got={got} "
        f"({case['why']})\ncontent={case['content']!r}"
    )
