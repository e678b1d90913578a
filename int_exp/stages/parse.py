"""Stage `parse`: proposals to interventions.

Reads the final ``<intervention>`` block of each proposal (never an earlier draft:
:mod:`int_exp.interventions.parsing`), counts how its location was spelt (``funnel/location_*``),
drops those that do not parse (counted by reason, never fatal), those whose content is text of the proposer's prompt template (small
models echo its format example), those that leave the attempt as it was (``unchanged``: the
content is the very step it replaces, so it corrects nothing; a weak proposer writes these often
and the correctness filter keeps them whenever the continuation recovers) and those that leak
the final answer, then keeps
``intervention.per_attempt`` per (problem, incorrect attempt). Output: the failure columns plus
``intervention`` {content, location}, ``intervention_guided_attempt``, ``proposer_prompt``,
``proposer_output`` and ``oracle_right`` (whether the domain's exact step checker would have
proposed the same step and content; None without an oracle); a ``rejected`` table keeps every
dropped proposal with its reason. Where the domain has an oracle, the proposer's accuracy
against it is logged (``proposer/parsed``, ``empty``, ``right_location``, ``right_content``,
``right``, ``leaked``, and ``right_kept`` after de-duplication).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from int_exp.interventions.steps import split_steps
from int_exp.pipeline.stage import Stage, StageContext, StageOutput


def why_unusable(intervention: dict, steps: list[str], answer: str, templates: str, source: str) -> str | None:
    """Why a parsed intervention (its location within the attempt's ``steps``) cannot be used
    (``copied_prompt``, ``unchanged``, ``leaked``: judged with the answer check of the problem's
    domain), or None."""
    from int_exp.domains import domain_of
    from int_exp.interventions import copies_prompt, leaks_answer
    from int_exp.interventions.splicing import intervention_steps

    content = intervention["content"]
    if copies_prompt(content, templates):
        return "copied_prompt"
    replaced = steps[int(intervention["location"]) - 1] if steps else ""
    if intervention_steps(content) == intervention_steps(replaced):
        return "unchanged"
    if leaks_answer(content, answer, domain_of(source).answers_equivalent):
        return "leaked"
    return None


def judged_against_oracle(proposals: list[dict]) -> tuple[list[bool | None], dict[str, float]]:
    """Whether each proposal is the oracle's intervention (None where the problem's domain has no
    oracle), and the proposer's accuracy (``proposer/*``: shares of the proposals judged that
    parse, are empty, name the oracle's step, its content, both)."""
    from int_exp.domains import domain_of
    from int_exp.interventions.judging import judge_proposal, summarize

    right, judgements = [], []
    for row in proposals:
        oracle = domain_of(str(row["source"])).oracle()
        if oracle is None:
            right.append(None)
            continue
        n_steps = len(split_steps(row["incorrect_attempt"]))
        judgement = judge_proposal(row["proposer_output"], oracle(row, row["incorrect_attempt"]), n_steps)
        judgements.append(judgement)
        right.append(judgement.right)
    if not judgements:
        return right, {}
    return right, {f"proposer/{name}": value for name, value in summarize(judgements).items() if name != "proposals"}


def run(ctx: StageContext) -> StageOutput:
    from int_exp.interventions import dedupe_interventions, guided_attempt
    from int_exp.interventions.parsing import LOCATION_KINDS, parse_intervention_detailed

    table = ctx.inputs["proposals"].table()
    templates = "\n".join(str(text) for text in ctx.cfg.intervention.prompt.values() if text)
    proposals = table.to_dict("records")
    right, accuracy = judged_against_oracle(proposals)
    for row, is_right in zip(proposals, right):
        row["oracle_right"] = is_right
    # unparseable: no intervention could be read; dropped: read, but not usable.
    parsed, rejected, unparseable, dropped = [], [], Counter(), Counter({"copied_prompt": 0, "unchanged": 0, "leaked": 0})
    locations = Counter({kind: 0 for kind in LOCATION_KINDS})  # how the parsed locations were spelt
    for row in proposals:
        steps = split_steps(row["incorrect_attempt"])
        result = parse_intervention_detailed(row["proposer_output"], len(steps))
        intervention = result.intervention
        if intervention is None:
            unparseable[result.reason] += 1
            rejected.append({**row, "reason": result.reason})
            continue
        locations[result.location_kind] += 1  # every intervention read, usable or not (funnel/parsed)
        if drop := why_unusable(intervention, steps, str(row["answer"]), templates, str(row["source"])):
            dropped[drop] += 1
            rejected.append({**row, "reason": drop, "intervention": intervention})
        else:
            guided = guided_attempt(row["incorrect_attempt"], intervention["location"], intervention["content"])
            parsed.append({**row, "intervention": intervention, "intervention_guided_attempt": guided})
    kept = dedupe_interventions(parsed, ctx.cfg.intervention.per_attempt)
    kept_keys = {(row["attempt_id"], row["proposal_index"]) for row in kept}
    rejected += [{**row, "reason": "duplicate"} for row in parsed
                 if (row["attempt_id"], row["proposal_index"]) not in kept_keys]

    metrics = {
        "funnel/parsed": len(parsed) + dropped.total(),
        **{f"funnel/{kind}": n for kind, n in dropped.items()},
        "funnel/deduplicated": len(kept),
        **{f"funnel/unparseable_{kind}": n for kind, n in unparseable.items()},
        **{f"funnel/location_{kind}": n for kind, n in locations.items()},
        **accuracy,
    }
    if accuracy and proposals:
        metrics["proposer/leaked"] = dropped["leaked"] / len(proposals)
        metrics["proposer/unchanged"] = dropped["unchanged"] / len(proposals)
        metrics["proposer/right_kept"] = sum(bool(row["oracle_right"]) for row in kept) / max(1, len(kept))
    if proposals and not kept:
        ctx.log.warning("no intervention survived parsing: unparseable %s, dropped %s", dict(unparseable), dict(dropped))
    rejected_table = pd.DataFrame(rejected)
    if "intervention" in rejected_table:  # parquet needs one type per column
        rejected_table["intervention"] = rejected_table["intervention"].map(lambda v: v if isinstance(v, dict) else None)
    columns = list(table.columns) + ["oracle_right", "intervention", "intervention_guided_attempt"]
    return StageOutput(tables={"main": pd.DataFrame(kept, columns=columns), "rejected": rejected_table},
                       metrics=metrics)


STAGE = Stage(
    name="parse",
    version="5",  # 5: unchanged interventions dropped; 4: oracle_right and the proposer's accuracy
    reads=["intervention.per_attempt", "intervention.prompt"],
    inputs={"proposals": "propose"},
    run=run,
    description=__doc__,
    tables=("main", "rejected"),
)
