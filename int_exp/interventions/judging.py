"""How a proposal compares with the oracle's: the proposer's accuracy where a domain has an exact
step checker (arith). Both outputs are read by the same parser, so a proposal is *right* when
it replaces the same step with the same content (whitespace aside) as the oracle's block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from int_exp.interventions.parsing import parse_intervention_detailed

__all__ = ["JUDGEMENTS", "Judgement", "judge_proposal", "summarize"]

JUDGEMENTS = ("parsed", "empty", "right_location", "right_content", "right")


@dataclass(frozen=True)
class Judgement:
    parsed: bool  # an intervention could be read
    empty: bool  # the proposer said there was no error (empty content)
    right_location: bool  # the oracle's step
    right_content: bool  # the oracle's replacement (whitespace aside)
    right: bool  # both


def _normal(text: str) -> str:
    return " ".join(str(text).split())


def judge_proposal(proposal: str, oracle_output: str, num_steps: int) -> Judgement:
    """``proposal`` against ``oracle_output`` for an attempt of ``num_steps`` steps."""
    mine = parse_intervention_detailed(proposal, num_steps)
    truth = parse_intervention_detailed(oracle_output, num_steps).intervention
    got = mine.intervention
    if got is None or truth is None:
        return Judgement(got is not None, mine.reason == "empty_content", False, False, False)
    location = got["location"] == truth["location"]
    content = _normal(got["content"]) == _normal(truth["content"])
    return Judgement(True, False, location, content, location and content)


def summarize(judgements: Iterable[Judgement]) -> dict[str, float]:
    """The share of proposals with each property (:data:`JUDGEMENTS`), and their count."""
    items = list(judgements)
    n = max(1, len(items))
    return {"proposals": len(items), **{name: sum(getattr(j, name) for j in items) / n for name in JUDGEMENTS}}
