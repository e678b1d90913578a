"""Stage `correctness_filter` (formerly `guided_rollouts`): the final intervention set (correctness filtering).

With ``intervention.correctness_filter`` (the paper's default) an intervention is kept when at
least ``intervention.min_correct`` of its guided continuations are correct, and one correct
continuation is stored as ``guided_completion`` (used by suffix cloning). Without the filter every
parsed, non-leaking intervention is kept. Only this cheap step depends on ``min_correct``, so
changing it reuses the sampled continuations. Also writes a readable sample of interventions.
"""

from __future__ import annotations

import json

import pandas as pd

from int_exp.pipeline.stage import Stage, StageContext, StageOutput

READS = ["intervention.correctness_filter", "intervention.min_correct", "intervention.samples_in_report"]


def inputs(cfg, plan) -> dict[str, str]:
    if cfg.intervention.correctness_filter:
        return {"parsed": "parse", "sampled": "continuations"}
    return {"parsed": "parse"}


def choose_completion(continuations, verdicts) -> tuple[str | None, bool]:
    """The first correct continuation; else the first one (kept only when min_correct is 0)."""
    for text, ok in zip(continuations, verdicts):
        if ok:
            return text, True
    return (continuations[0], False) if len(continuations) else (None, False)


def apply_filter(table: pd.DataFrame, min_correct: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = table["guided_correct"] >= min_correct
    kept, dropped = table[keep].copy(), table[~keep].copy()
    chosen = [choose_completion(c, v) for c, v in zip(kept["continuations"], kept["continuation_verdicts"])]
    kept["guided_completion"] = [text for text, _ in chosen]
    kept["guided_completion_correct"] = [ok for _, ok in chosen]
    return kept.drop(columns=["continuations", "continuation_verdicts"]), dropped


def excerpt(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def sample_report(kept: pd.DataFrame, dropped: pd.DataFrame, rejected: pd.DataFrame, per_kind: int) -> str:
    """A markdown table a person can read: attempt excerpt, location, content, kept or why not."""
    rows = [(r, "kept") for r in kept.head(per_kind).to_dict("records")]
    rows += [(r, f"dropped: {r['guided_correct']} correct continuations") for r in dropped.head(per_kind).to_dict("records")]
    if len(rejected):
        for reason, group in rejected.groupby("reason"):
            rows += [(r, f"dropped: {reason}") for r in group.head(max(1, per_kind // 2)).to_dict("records")]
    lines = ["| problem | attempt (excerpt) | location | intervention | outcome |", "|---|---|---|---|---|"]
    for row, outcome in rows:
        intervention = row.get("intervention") if isinstance(row.get("intervention"), dict) else {}
        content = intervention.get("content") or excerpt(row.get("proposer_output", ""), 160)
        location = intervention.get("location")  # a float when parquet read it beside nulls
        cells = [row["problem_id"], excerpt(row["incorrect_attempt"]), "-" if location is None else int(location),
                 excerpt(content, 200), outcome]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "# Sample interventions\n\n" + "\n".join(lines) + "\n" + rendered_prompts(kept, dropped, rejected)


def rendered_prompts(*tables: pd.DataFrame) -> str:
    """The proposer's prompt of the first model proposal (both turns, as sent), so a reader sees
    exactly what the model was asked; nothing for the oracle, which has no prompt."""
    for table in tables:
        if len(table) and "proposer_prompt" in table:
            for prompt in table["proposer_prompt"]:
                try:
                    messages = json.loads(prompt)
                except (TypeError, ValueError):
                    continue  # the oracle's note
                parts = [f"### {m['role']}\n\n````text\n{m['content']}\n````" for m in messages]
                return "\n## The proposer's prompt (first proposal)\n\n" + "\n\n".join(parts) + "\n"
    return ""


def oracle_shares(kept: pd.DataFrame, dropped: pd.DataFrame) -> dict[str, float]:
    """Where an oracle judged the interventions (``oracle_right``): the share of the oracle's
    interventions among those kept and those filtered out (what the filter removes)."""
    metrics = {}
    for name, table in (("kept", kept), ("filtered_out", dropped)):
        judged = table["oracle_right"].dropna() if "oracle_right" in table else []
        if len(judged):
            metrics[f"proposer/right_{name}_by_filter"] = float(judged.astype(bool).mean())
    return metrics


def run(ctx: StageContext) -> StageOutput:
    icfg = ctx.cfg.intervention
    parsed = ctx.inputs["parsed"]
    if icfg.correctness_filter:
        kept, dropped = apply_filter(ctx.inputs["sampled"].table(), icfg.min_correct)
    else:
        kept, dropped = parsed.table(), pd.DataFrame()
    report = ctx.out_dir / "sample_interventions.md"
    report.write_text(sample_report(kept, dropped, parsed.table("rejected"), icfg.samples_in_report))
    metrics = {"funnel/kept": len(kept), "funnel/filtered_out": len(dropped), **oracle_shares(kept, dropped)}
    if len(kept) == 0:
        ctx.log.warning("no intervention kept (filtered out: %d)", len(dropped))
    return StageOutput(tables={"main": kept}, metrics=metrics, files=[report.name])


STAGE = Stage(name="correctness_filter", version="2", reads=READS, inputs=inputs, run=run, description=__doc__,
              legacy_name="guided_rollouts")  # its cache entries keep the old name
