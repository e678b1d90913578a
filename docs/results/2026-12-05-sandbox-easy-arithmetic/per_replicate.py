# pass@1 of every sandbox job in an MLflow store, one line per (base-model seed, run seed, max_operand),
# with the paired differences rl_only - base and int - rl_only (points).
# Usage: python docs/results/2026-12-05-sandbox-easy-arithmetic/per_replicate.py sqlite:///PATH/mlflow.db
import sys

from mlflow import MlflowClient

c = MlflowClient(sys.argv[1])
exp = c.get_experiment_by_name("sandbox")
runs = c.search_runs([exp.experiment_id], "tags.run_kind = 'job'", max_results=2000)
rows = {}
for r in runs:
    p = r.data.params
    key = (p.get("model.sandbox.seed"), p.get("seed"), p.get("data.arith.max_operand"))
    m = r.data.metrics.get("arith/pass_at_1")
    if m is not None:
        rows.setdefault(key, {})[r.data.tags.get("variant")] = m


def diff(v: dict, a: str, b: str) -> str:
    return f"{100 * (v[a] - v[b]):+.1f}" if a in v and b in v else "-"


for k in sorted(rows):
    v = rows[k]
    print(k, {n: round(100 * x, 1) for n, x in sorted(v.items())},
          "rl-base", diff(v, "rl_only", "base"), "int-rl", diff(v, "int", "rl_only"))
