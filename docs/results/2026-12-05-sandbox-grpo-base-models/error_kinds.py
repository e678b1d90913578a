# What kind of first error does each sandbox base model make on the training problems it never
# solves? Reads a sweep's cache: every `propose` entry of the oracle proposer (one row per failed
# rollout, the oracle's intervention in `proposer_output`), followed through its manifests to the
# model that made the rollouts (`failures` <- `rollouts` <- `model`) and the run seed (the rollouts' sampling seed); entries of the same chain are printed once.
# Kinds, from the attempt's wrong substep against the oracle's replacement `a op b = c`:
#   result   - same a, op and b, wrong c (an arithmetic slip)
#   misread  - same a, another operation or operand than the problem's (a reading error)
#   carried  - the running value not carried from the previous step
#   other    - a start, answer or unreadable step
# Usage: python docs/results/2026-12-05-sandbox-grpo-base-models/error_kinds.py CACHE_DIR
import collections
import json
import re
import sys
from pathlib import Path

import pandas as pd

cache = Path(sys.argv[1])
EQ = re.compile(r"(-?\d+) (\S) (-?\d+) = (-?\d+)")


def manifest(stage: str, key: str) -> dict:
    return json.loads((cache / stage / key / "manifest.json").read_text())


def kind(attempt: str, output: str) -> str:
    found = re.search(r'"content": "(.*?)", "location": (\d+)', output)
    if not found:
        return "other"
    content, location = found.group(1), int(found.group(2))
    steps = attempt.split("\n\n")
    wrong = EQ.match(steps[location - 1]) if location <= len(steps) else None
    right = EQ.match(content)
    if not (wrong and right):
        return "other"
    (a1, o1, b1, _), (a2, o2, b2, _) = wrong.groups(), right.groups()
    if a1 != a2:
        return "carried"
    return "result" if (o1, b1) == (o2, b2) else "misread"


rows = []
for entry in sorted((cache / "propose").glob("*/manifest.json")):
    m = json.loads(entry.read_text())
    if m["config"].get("intervention.proposer") != "oracle":
        continue
    rollouts_key = manifest("failures", m["inputs"]["failures"])["inputs"]["rollouts"]
    rollouts = manifest("rollouts", rollouts_key)
    model = manifest("model", rollouts["inputs"]["policy"])["config"]["model.sandbox"]
    table = pd.read_parquet(entry.parent / "main.parquet")
    counts = collections.Counter(kind(a, o) for a, o in zip(table["incorrect_attempt"], table["proposer_output"]))
    rows.append({"model seed": model["seed"], "run seed": rollouts["config"]["sampling"]["seed"],
                 "failed rollouts": len(table),
                 **{k: f"{100 * counts[k] / len(table):.0f}%" for k in ("result", "misread", "carried", "other")}})
print(pd.DataFrame(rows).drop_duplicates().sort_values(["model seed", "run seed"]).to_string(index=False))

# The same kinds on the held-out evaluation (256 problems x 8 samples): the first error of every
# wrong completion, per policy (base model, plain GRPO, SFT + GRPO), so what GRPO removed shows.
from int_exp.domains.arith.generator import generate_problems
from int_exp.domains.arith.oracle import oracle_intervention


def chain(policy: str) -> tuple[str, dict, int | None]:
    """(variant, the model's sandbox settings, GRPO's seed) of an eval entry's policy key."""
    if (cache / "model" / policy).exists():
        return "base", manifest("model", policy)["config"]["model.sandbox"], None
    rl = manifest("rl", policy)
    start = rl["inputs"]["policy"]
    variant = "rl_only" if (cache / "model" / start).exists() else "sft+rl"
    model_key = start if variant == "rl_only" else manifest("sft", start)["inputs"]["base"]
    return variant, manifest("model", model_key)["config"]["model.sandbox"], rl["config"].get("rl.seed")


rows = []
for entry in sorted((cache / "eval").glob("*/manifest.json")):
    m = json.loads(entry.read_text())
    if "arith" not in m.get("tables", {}):
        continue
    variant, model, rl_seed = chain(m["inputs"]["policy"])
    arith = m["config"]["data.arith"]
    problems = generate_problems(arith, "test", arith["test_size"])
    table = pd.read_parquet(entry.parent / "arith.parquet")
    counts = collections.Counter()
    for index, (completions, verdicts) in enumerate(zip(table["completions"], table["verdicts"])):
        problem = problems[int(str(table["problem_id"][index]).rsplit("/", 1)[1])]
        for text, right in zip(completions, verdicts):
            if not right:
                counts[kind(text, oracle_intervention(problem, text))] += 1
    samples = sum(len(v) for v in table["verdicts"])
    rows.append({"model seed": model["seed"], "policy": variant, "GRPO seed": rl_seed,
                 "sampling seed": m["config"]["sampling"]["seed"], "wrong": f"{100 * counts.total() / samples:.1f}%",
                 **{k: f"{100 * counts[k] / samples:.1f}%" for k in ("result", "misread", "carried", "other")}})
print("\nheld-out samples (share of all samples) by the kind of their first error")
print(pd.DataFrame(rows).drop_duplicates().sort_values(["model seed", "policy", "sampling seed"]).to_string(index=False))
