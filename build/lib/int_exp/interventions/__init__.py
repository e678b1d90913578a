"""Interventions: the proposer's prompts, reading its ``<intervention>`` block, and what follows.

The paper's self-verification runs as one two-turn conversation per proposal:

* turn 1 (:func:`proposer_turn1`): the problem and the high-level reference solution; the model
  solves the problem guided by the reference;
* turn 2 (:func:`proposer_turn2`): the failed attempt as numbered ``**Substep i:**`` items (steps
  are blank-line separated, :mod:`int_exp.interventions.steps`); the model verifies it against the reference,
  names the first critical error and writes one replacement step, from the student's point of
  view, as ``<intervention>{"content": ..., "location": N}</intervention>`` (N: the substep it
  replaces). The correct final answer is shown so the model can check the step does not give it
  away; :func:`leaks_answer` checks again.

:func:`parse_intervention` reads that block back, :func:`guided_attempt` splices it into the
attempt (steps 1..N-1, then the intervention) and :func:`dedupe_interventions` keeps
``intervention.per_attempt`` per failed attempt. :func:`reflect_chat` builds the self-reflection
baseline's prompt.

Where each part lives (everything public is importable from this package):

* :mod:`.prompts`: the two turns, their truncation to a token budget, :func:`fill_template`,
  :func:`reflect_chat`;
* :mod:`.parsing`: finding and reading the ``<intervention>`` block, with the lenient
  near-JSON reader of :mod:`.lenient_json` (LaTeX backslashes included);
* :mod:`.splicing`: :func:`guided_attempt` and :func:`dedupe_interventions`;
* :mod:`.leaks`: :func:`leaks_answer`.

Importing this package is light: no torch, transformers, mlflow or math-verify (the leak check
imports the grader only when a ``\\boxed{}`` needs comparing).
"""

from int_exp.interventions.leaks import leaks_answer
from int_exp.interventions.lenient_json import LATEX_N_COMMANDS
from int_exp.interventions.parsing import (
    PARSE_REASONS,
    copies_prompt,
    parse_intervention,
    parse_intervention_reason,
)
from int_exp.interventions.prompts import (
    TRUNCATION_MARKER,
    fill_template,
    number_steps,
    proposer_turn1,
    proposer_turn2,
    proposer_turn2_detailed,
    reflect_chat,
)
from int_exp.interventions.splicing import dedupe_interventions, guided_attempt

__all__ = [
    "LATEX_N_COMMANDS",
    "PARSE_REASONS",
    "TRUNCATION_MARKER",
    "copies_prompt",
    "dedupe_interventions",
    "fill_template",
    "guided_attempt",
    "leaks_answer",
    "number_steps",
    "parse_intervention",
    "parse_intervention_reason",
    "proposer_turn1",
    "proposer_turn2",
    "proposer_turn2_detailed",
    "reflect_chat",
]
