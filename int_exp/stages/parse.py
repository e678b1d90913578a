"""Stage `parse`: proposals to interventions.

Reads the last ``<intervention>`` block of each proposal, drops those that do not parse (counted
by reason, never fatal), those whose content is text of the proposer's prompt template (small
models echo its format example) and those that leak the final answer, then keeps
``intervention.per_attempt`` per (problem, incorrect attempt). Output: the failure columns plus
``intervention`` {content, location}, ``intervention_guided_attempt``, ``proposer_prompt``,
``proposer_output``; a ``rejected`` table keeps every dropped proposal with its reason.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.steps import split_steps


def run(ctx: StageContext) -> StageOutput:
    from int_exp.interventions import (
        copies_prompt,
        dedupe_interventions,
        guided_attempt,
        leaks_answer,
        parse_intervention_reason,
    )

    table = ctx.inputs["proposals"].table()
    templates = "\n".join(str(text) for text in ctx.cfg.intervention.prompt.values() if text)
    proposals = table.to_dict("records")
    parsed, rejected, reasons = [], [], Counter()
    for row in proposals:
        intervention, reason = parse_intervention_reason(row["proposer_output"], len(split_steps(row["incorrect_attempt"])))
        if intervention is None:
            reasons[reason] += 1
            rejected.append({**row, "reason": reason})
        elif copies_prompt(intervention["content"], templates):
            reasons["copied_prompt"] += 1
            rejected.append({**row, "reason": "copied_prompt", "intervention": intervention})
        elif leaks_answer(intervention["content"], str(row["answer"])):
            reasons["leaked"] += 1
            rejected.append({**row, "reason": "leaked", "intervention": intervention})
        else:
            guided = guided_attempt(row["incorrect_attempt"], intervention["location"], intervention["content"])
            parsed.append({**row, "intervention": intervention, "intervention_guided_attempt": guided})
    kept = dedupe_interventions(parsed, ctx.cfg.intervention.per_attempt)
    kept_keys = {(row["attempt_id"], row["proposal_index"]) for row in kept}
    rejected += [{**row, "reason": "duplicate"} for row in parsed
                 if (row["attempt_id"], row["proposal_index"]) not in kept_keys]

    metrics = {
        "funnel/parsed": len(parsed) + reasons["leaked"] + reasons["copied_prompt"],
        "funnel/copied_prompt": reasons["copied_prompt"],
        "funnel/leaked": reasons["leaked"],
        "funnel/deduplicated": len(kept),
        **{f"funnel/unparseable_{kind}": n for kind, n in reasons.items() if kind not in ("leaked", "copied_prompt")},
    }
    if proposals and not kept:
        ctx.log.warning("no intervention survived parsing: reasons %s", dict(reasons))
    rejected_table = pd.DataFrame(rejected)
    if "intervention" in rejected_table:  # parquet needs one type per column
        rejected_table["intervention"] = rejected_table["intervention"].map(lambda v: v if isinstance(v, dict) else None)
    columns = list(table.columns) + ["intervention", "intervention_guided_attempt"]
    return StageOutput(tables={"main": pd.DataFrame(kept, columns=columns), "rejected": rejected_table},
                       metrics=metrics)


STAGE = Stage(
    name="parse",
    version="2",
    reads=["intervention.per_attempt", "intervention.prompt"],
    inputs={"proposals": "propose"},
    run=run,
    description=__doc__,
)
