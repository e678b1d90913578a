"""Calibration of the sandbox model: build time, sampled accuracy by difficulty, failure shape.

Builds ``builtin:sandbox`` with the given config (or loads a built folder), samples ``n`` solutions
per held-out arith ``test`` problem through the ``hf`` backend, and prints accuracy by difficulty
(easy 1-3 operations, medium 4-5, hard 6-8) and by number of operations, then, for failures: where
the first wrong step falls relative to the attempt's length, what kind of error it is, and the
share the arith oracle can diagnose (a wrong or missing step, not unreadable text).

    python benchmarks/sandbox_calibration.py                       # build the default, evaluate
    python benchmarks/sandbox_calibration.py --model-dir DIR       # evaluate a built folder
    python benchmarks/sandbox_calibration.py --problems 64 --n 4 --temperature 0.7 \\
        --set train_steps=1200 --arith max_operand=50
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from int_exp.domains.arith.sandbox_eval import evaluate_sandbox
from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH, load_card, train_sandbox_model
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig


def _parse_sets(items: list[str], cls):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown {cls.__name__} field {key!r}")
        out[key] = json.loads(value) if value[:1] in "[{\"" else type(getattr(cls(), key))(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="a built sandbox folder (default: build one)")
    ap.add_argument("--out", help="where to build (default: a temporary folder)")
    ap.add_argument("--problems", type=int, default=48, help="test problems per difficulty")
    ap.add_argument("--n", type=int, default=4, help="samples per problem")
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[], help="SandboxModelConfig overrides, key=value")
    ap.add_argument("--arith", nargs="*", default=[],
                    help="ArithConfig overrides, key=value (on top of int_exp.domains.arith.sandbox_model.SANDBOX_ARITH)")
    ap.add_argument("--examples", type=int, default=3, help="failed hard attempts to print")
    args = ap.parse_args()

    arith = ArithConfig(**{**SANDBOX_ARITH, **_parse_sets(args.arith, ArithConfig)})
    if args.model_dir:
        model_dir = Path(args.model_dir)
    else:
        cfg = SandboxModelConfig(**_parse_sets(args.set, SandboxModelConfig))
        model_dir = Path(args.out or tempfile.mkdtemp(prefix="sandbox-"))
        t0 = time.perf_counter()
        train_sandbox_model(cfg, arith, model_dir)
        print(f"\nbuilt {model_dir} in {time.perf_counter() - t0:.0f} s (wall, including the card's evaluation)")
    card_path = model_dir / "sandbox_card.json"
    if card_path.exists():
        card = load_card(model_dir)
        print(
            f"model: {card['parameters']:,} parameters, {card['train_steps']} steps x {card['config']['batch_size']} "
            f"({card['epochs']} epochs of {card['train_problems']} problems with {card['train_ops'][0]}-"
            f"{card['train_ops'][1]} ops), training {card['train_seconds']} s on {card['threads']} threads "
            f"({'bf16 autocast' if card.get('bf16') else 'fp32'}), "
            f"loss {card['loss_first']:.3f} -> {card['loss_last']:.4f}"
        )

    t0 = time.perf_counter()
    result = evaluate_sandbox(
        model_dir, arith, n_problems=args.problems, n_samples=args.n, temperature=args.temperature,
        top_p=args.top_p, top_k=args.top_k,
    )
    rows = result["rows"]
    print(f"\nsampling: {len(rows)} samples in {time.perf_counter() - t0:.0f} s "
          f"(T={args.temperature}, top_p={args.top_p}, top_k={args.top_k}; {args.n} per problem)")
    print(f"{'difficulty':<10} {'ops':>5} {'samples':>8} {'accuracy':>9} {'pass@n':>7}")
    for band, s in result["summary"].items():
        sub = [r for r in rows if r["band"] == band]
        by_problem = collections.defaultdict(list)
        for r in sub:
            by_problem[r["problem"]].append(r["correct"])
        pass_n = sum(any(v) for v in by_problem.values()) / max(1, len(by_problem))
        print(f"{band:<10} {s['ops'][0]}-{s['ops'][1]:<3} {s['samples']:>8} {s['accuracy']:>9.1%} {pass_n:>7.1%}")
    print("by operations: " + ", ".join(
        f"{k}: {sum(r['correct'] for r in rows if r['num_ops'] == k) / sum(1 for r in rows if r['num_ops'] == k):.0%}"
        for k in sorted({r["num_ops"] for r in rows})))

    for band in result["summary"]:
        fails = [r for r in rows if r["band"] == band and not r["correct"]]
        if not fails:
            continue
        fracs = [r["first_error_frac"] for r in fails]
        hist = collections.Counter(min(int(f * 4), 3) for f in fracs)
        kinds = collections.Counter(r["kind"] for r in fails)
        diag = sum(r["diagnosable"] for r in fails) / len(fails)
        first_correct = sum(r["first_error"] - 1 for r in fails) / len(fails)
        print(f"\n{band} failures: {len(fails)}; oracle-diagnosable {diag:.0%}; "
              f"correct steps before the first error: mean {first_correct:.1f}")
        print("  first error at (step / attempt steps): " + ", ".join(
            f"{lo:.0%}-{lo + 0.25:.0%}: {hist.get(q, 0) / len(fails):.0%}"
            for q, lo in enumerate([0, 0.25, 0.5, 0.75])))
        print("  kinds: " + ", ".join(f"{k} {v / len(fails):.0%}" for k, v in kinds.most_common()))
    hard_fails = [r for r in rows if r["band"] == "hard" and not r["correct"]]
    for r in hard_fails[: args.examples]:
        print("\n--- " + r["problem"] + "\n" + r["attempt"] + "\n>>> " + r["reason"])


if __name__ == "__main__":
    main()
