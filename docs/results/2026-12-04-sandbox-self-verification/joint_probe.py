# Probe: verification trained jointly with solving from the first step (no second phase, no
# optimizer restart). Every 5th optimizer step is a verification batch (perturbed attempts of
# 5-8-operation pretrain problems, 10% correct), every 10th a solve-with-reference batch, the
# rest the usual solving batches; train_steps covers them all, so the schedule is the build's.
# Run from the repository root:
#   python docs/results/2026-12-04-sandbox-self-verification/joint_probe.py OUT_DIR [TRAIN_STEPS]
import json
import random
import sys
import time

from int_exp.domains.arith import sandbox_model
from int_exp.domains.arith.generator import generate_problems, with_steps
from int_exp.domains.arith.sandbox_eval import evaluate_verification
from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH, build_tokenizer, train_sandbox_model
from int_exp.domains.arith.sandbox_training import batch_tensors
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig
from int_exp.domains.arith.verification import prompt_config, verification_examples

out = sys.argv[1]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 2300
cfg = SandboxModelConfig(train_steps=steps, eval_problems=0, verify_steps=0)
arith = ArithConfig(**SANDBOX_ARITH)
tokenizer = build_tokenizer()
rng = random.Random(0)
problems = generate_problems(with_steps(arith, 5, 8), "pretrain", steps // 5 * cfg.batch_size)
pools = verification_examples(tokenizer, problems, [], prompt_config(cfg), rng)
queues = {kind: [] for kind in pools}
count = {"n": 0, "verify": 0, "solve_ref": 0}
plain_step = sandbox_model.train_step


def next_batch(kind):
    if not queues[kind]:
        order = list(range(len(pools[kind])))
        rng.shuffle(order)
        queues[kind] = [order[i:i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
    return batch_tensors([pools[kind][i] for i in queues[kind].pop()], tokenizer.pad_token_id)


def joint_step(model, optimizers, batch, device, bf16):
    count["n"] += 1
    kind = "verify" if count["n"] % 5 == 0 else "solve_ref" if count["n"] % 10 == 1 else None
    if kind:
        count[kind] += 1
        batch = next_batch(kind)
    return plain_step(model, optimizers, batch, device, bf16)


sandbox_model.train_step = joint_step
t0 = time.time()
train_sandbox_model(cfg, arith, out)
print("build", round(time.time() - t0), "s", count, flush=True)
t0 = time.time()
result = evaluate_verification(out, arith, prompt_config(cfg), n_problems=48, temperature=1.0)
print("eval", round(time.time() - t0), "s")
print(json.dumps(result["summary"], indent=1))
for row in result["rows"][:4]:
    print(repr(row["attempt"][-100:]), "=>", row["proposal"][:300], row["judgement"])
