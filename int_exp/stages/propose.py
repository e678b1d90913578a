"""Stage `propose`: the model checks its own failed attempt and proposes one intervention.

The paper's two-turn self-verification, one conversation per failed attempt, sampled as the
paper's script does: turn 1 (the model solves the problem guided by the reference solution) is
sampled ``intervention.solve_samples`` times (the paper: once), and turn 2 (it verifies the failed
attempt, shown as numbered substeps, names the first critical error, drafts, self-checks and
writes one replacement step as ``<intervention>{"content": ..., "location": N}</intervention>``)
``intervention.k`` times from each solving sample, so the k verifications share one prompt
(vLLM's prefix cache; one prompt encoding on hf). Proposals per attempt: solve_samples x k. The
proposer has its own sampling settings (``intervention.sampling``); the prompts are config
(``intervention.prompt``).

``intervention.proposer``: ``self`` (the policy; the paper's setting), another model id or path
(the paper notes a 30B proposer's interventions were twice as accurate), or ``oracle``: the domain's exact
step checker (the synthetic arith domain has one), standing in for self-verification where a model
cannot do it. It writes the same ``<intervention>`` block, so the rest of the chain is identical.
"""

from __future__ import annotations

import json
import logging

import pandas as pd

from int_exp.pipeline.stage import Stage, StageContext, StageOutput
from int_exp.stages.common import GENERATION_READS, generate, sampling_params, warn_too_long

log = logging.getLogger(__name__)

# The rollouts' `sampling` is not read: the proposer samples with intervention.sampling.
READS = [key for key in GENERATION_READS if key != "sampling"] + [
    "intervention.proposer", "intervention.prompt", "intervention.solve_samples", "intervention.k",
    "intervention.sampling"]
COLUMNS = ["proposal_index", "solve_index", "verify_index", "proposer_prompt", "proposer_output", "prompt_truncated"]


def inputs(cfg, plan) -> dict[str, str]:
    return {"failures": "failures", "policy": "model"} if cfg.intervention.proposer == "self" else {"failures": "failures"}


def token_counter(model_path: str):
    from int_exp.models import load_tokenizer

    tokenizer = load_tokenizer(model_path)

    def count(messages: list[dict]) -> int:
        rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return len(tokenizer(rendered, add_special_tokens=False)["input_ids"])

    return count


def oracle_of(source: str):
    from int_exp.domains import domain_of

    domain = domain_of(source)
    if domain.oracle() is None:
        raise ValueError(f"intervention.proposer=oracle: the {domain.name} domain (source {source!r}) has no oracle "
                         "proposer; use intervention.proposer=self (or auto)")
    return domain.oracle()


def oracle_proposals(failures: pd.DataFrame) -> list[dict]:
    return [
        {**row, "proposal_index": 0, "solve_index": 0, "verify_index": 0, "proposer_prompt": "(oracle: exact step checker)",
         "proposer_output": oracle_of(str(row["source"]))(row, row["incorrect_attempt"]), "prompt_truncated": False}
        for row in failures.to_dict("records")
    ]


def verification_budget(max_context: int, max_tokens: int) -> tuple[int, int]:
    """``(prompt tokens, new tokens)`` for the verification turn, whose prompt carries the whole
    first turn and the attempt: ``max_tokens`` new tokens when that leaves the prompt at least
    half the context, else half the context each (with a warning)."""
    new_tokens = min(max_tokens, max_context // 2)
    if new_tokens < max_tokens:
        log.warning("intervention.sampling.max_tokens=%d does not fit model.max_context=%d with a prompt: the "
                    "verification turn gets %d new tokens and a prompt of up to %d", max_tokens,
                    max_context, new_tokens, max_context - new_tokens)
    return max_context - new_tokens, new_tokens


def model_proposals(ctx: StageContext, failures: pd.DataFrame, model_path: str) -> tuple[list[dict], int]:
    """The proposer's two turns on every failure, and how many prompts filled the context (no
    samples, skipped: a first-turn prompt too long; the second turn's attempt is cut to fit)."""
    from int_exp.interventions import proposer_turn1, proposer_turn2

    icfg = ctx.cfg.intervention
    prompt_budget, verify_tokens = verification_budget(ctx.cfg.model.max_context, icfg.sampling.max_tokens)
    rows = failures.to_dict("records")
    turn1_chats = [proposer_turn1(r["problem"], r["reference_solution"], icfg.prompt) for r in rows]
    solutions = generate(ctx, model_path, turn1_chats, sampling_params(icfg.sampling, icfg.solve_samples),
                         desc="propose: solve with reference")

    count = token_counter(model_path)
    pending = []  # one verification prompt per (attempt, solving sample), sampled k times
    for row, chat, answers in zip(rows, turn1_chats, solutions):
        for solve_index, answer in enumerate(answers):
            messages, truncated = proposer_turn2(chat, answer, row["incorrect_attempt"], row["answer"], icfg.prompt,
                                                 max_prompt_tokens=prompt_budget, count_tokens=count)
            pending.append(({**row, "solve_index": solve_index, "prompt_truncated": truncated}, messages))
    verifications = generate(ctx, model_path, [m for _, m in pending],
                             sampling_params(icfg.sampling, icfg.k, max_tokens=verify_tokens),
                             desc="propose: verify and intervene")
    too_long = sum(not group for group in solutions) + sum(not group for group in verifications)
    warn_too_long(ctx, "propose", too_long, len(solutions) + len(verifications))
    rows = [{**row, "proposal_index": row["solve_index"] * icfg.k + verify_index, "verify_index": verify_index,
             "proposer_prompt": json.dumps(messages), "proposer_output": output}
            for (row, messages), outputs in zip(pending, verifications)
            for verify_index, output in enumerate(outputs)]
    return rows, too_long


def run(ctx: StageContext) -> StageOutput:
    failures = ctx.inputs["failures"].table()
    proposer = ctx.cfg.intervention.proposer
    too_long = 0
    if proposer == "oracle":
        rows = oracle_proposals(failures)
    else:
        model_path = ctx.inputs["policy"].model_path if proposer == "self" else proposer
        rows, too_long = model_proposals(ctx, failures, model_path)
    table = pd.DataFrame(rows, columns=list(failures.columns) + COLUMNS)
    metrics = {"funnel/proposals": len(table), "funnel/prompts_truncated": int(table["prompt_truncated"].sum()),
               "propose/prompts_too_long": too_long}
    return StageOutput(tables={"main": table}, metrics=metrics)


STAGE = Stage(name="propose", version="4", reads=READS, inputs=inputs, run=run, description=__doc__)
