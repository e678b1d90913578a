"""The asymmetry in the sandbox: solving against verifying, by difficulty, judged by the oracle.

For a built sandbox model (a folder, e.g. the ``model`` stage's cache entry), samples attempts
at held-out arith ``test`` problems per difficulty band, then runs the model as the proposer on
its own failed attempts, exactly as the ``propose`` stage does (turn 1: solve with the terse
reference; turn 2: the numbered attempt -> ``<intervention>``), and compares each proposal with
the oracle's: parsed, empty, right location, right content, right (both), leaked.

    python benchmarks/sandbox_verification.py --model-dir DIR --problems 64 --n 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from int_exp.domains.arith.sandbox_eval import evaluate_verification
from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH, load_card
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig
from int_exp.domains.arith.verification import prompt_config

COLUMNS = ("solve_rate", "proposals", "parsed", "empty", "right_location", "right_content", "right", "leaked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="a built sandbox model folder")
    parser.add_argument("--problems", type=int, default=64, help="held-out problems per band")
    parser.add_argument("--n", type=int, default=2, help="attempts per problem")
    parser.add_argument("--temperature", type=float, default=1.0, help="the attempts' (the sandbox rollouts': 1.0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the summary here")
    args = parser.parse_args()
    card = load_card(args.model_dir)
    prompt = prompt_config(SandboxModelConfig(**{k: v for k, v in card["config"].items()
                                                if k in SandboxModelConfig.__dataclass_fields__}))
    t0 = time.perf_counter()
    result = evaluate_verification(args.model_dir, ArithConfig(**SANDBOX_ARITH), prompt, n_problems=args.problems,
                                   n_samples=args.n, temperature=args.temperature, seed=args.seed)
    print(f"model {args.model_dir}; {args.problems} problems x {args.n} attempts per band at T={args.temperature}; "
          f"proposer at T=0.7, top-p 0.8, top-k 20; {time.perf_counter() - t0:.0f} s")
    print("| band | " + " | ".join(COLUMNS) + " |\n|---" * (len(COLUMNS) + 1) + "|")
    for band, row in result["summary"].items():
        cells = [f"{row[c]:.0f}" if c == "proposals" else f"{100 * row[c]:.1f}" for c in COLUMNS]
        print(f"| {band} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(result["summary"], indent=2) + "\n")


if __name__ == "__main__":
    main()
