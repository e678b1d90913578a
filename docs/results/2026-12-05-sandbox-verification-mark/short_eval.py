# Greedy check of the short mark task on a model folder (run F's first-phase model):
#   python docs/results/2026-12-05-sandbox-verification-mark/short_eval.py MODEL_DIR [OPS]
# 48 held-out problems of OPS operations (5), noisy attempts; prints exact share, lines right,
# departures marked right, false marks, and three examples.
import json
import random
import sys

from int_exp.backends.base import SamplingParams
from int_exp.domains.arith import verification as V
from int_exp.domains.arith.generator import generate_problems, with_steps
from int_exp.domains.arith.sandbox_eval import sample_solutions
from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig

src = sys.argv[1]
ops = int(sys.argv[2]) if len(sys.argv) > 2 else 5
arith = ArithConfig(**SANDBOX_ARITH)
prompt = V.prompt_config(SandboxModelConfig())
held = generate_problems(with_steps(arith, ops, ops), "test", 48)
rng = random.Random(1)
src_att = [V.noisy_attempt(p, rng) for p in held]
outs = sample_solutions(
    src,
    [V.mark_chat(p, a, prompt, short=True) for p, a in zip(held, src_att)],
    SamplingParams(n=1, temperature=0.0, max_tokens=450, seed=0),
    batch_size=48,
)
SEP = "\n\n"
lines = [
    (g, w)
    for o, p, a in zip(outs, held, src_att)
    for g, w in zip(o[0].strip().split(SEP), V.mark_target(p, a).split(SEP))
]
bad = [(g, w) for g, w in lines if V.MARK in w]
print(
    json.dumps(
        {
            "exact": sum(o[0].strip() == V.mark_target(p, a) for o, p, a in zip(outs, held, src_att)) / 48,
            "lines_right": round(sum(g == w for g, w in lines) / len(lines), 3),
            "marked_lines_right": round(sum(g == w for g, w in bad) / max(1, len(bad)), 3),
            "n_marked": len(bad),
            "false_marks": sum(V.MARK in g and V.MARK not in w for g, w in lines),
        }
    )
)
for o, p, a in list(zip(outs, held, src_att))[:3]:
    print("WANT", V.mark_target(p, a).replace(SEP, " / "))
    print("GOT ", o[0].strip().replace(SEP, " / "))
