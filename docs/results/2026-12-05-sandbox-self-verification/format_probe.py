# Probe: which verification-log format can the 1M-parameter sandbox solver learn, and how fast?
# Trains a copy of a built solver on verification batches (perturbed attempts of 2-8-operation
# pretrain problems, 10% correct) mixed with solving batches, and every EVAL_EVERY steps greedily
# decodes turn 2 (gold turn 1) on 64 held-out 8-operation test problems with perturbed attempts,
# judged against the oracle. Env: TRAIN_OPS=lo,hi (2,8), EVAL_OPS (8), EVAL_EVERY (150). Run from the repository root:
#   python docs/results/2026-12-05-sandbox-self-verification/format_probe.py MODEL_DIR FORMAT STEPS [SHARE] [LR_SCALE]
import json
import random
import shutil
import sys
import time
from pathlib import Path

from transformers import LlamaForCausalLM

from int_exp.backends.base import SamplingParams
from int_exp.domains.arith import verification as V
from int_exp.domains.arith.generator import generate_problems, with_steps
from int_exp.domains.arith.oracle import oracle_intervention
from int_exp.domains.arith.sandbox_eval import sample_solutions
from int_exp.domains.arith.sandbox_model import (
    SANDBOX_ARITH,
    build_tokenizer,
    encode_example,
    pretrain_problems,
)
from int_exp.domains.arith.sandbox_training import batch_tensors, make_optimizers, train_step
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig
from int_exp.interventions.judging import judge_proposal, summarize
from int_exp.interventions.steps import split_steps
from int_exp.models.batching import length_batches

src, fmt, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
share = float(sys.argv[4]) if len(sys.argv) > 4 else 0.75
lr_scale = float(sys.argv[5]) if len(sys.argv) > 5 else 0.5
ENV = __import__("os").environ
EVAL_EVERY = int(ENV.get("EVAL_EVERY", 150))
TRAIN_OPS = [int(x) for x in ENV.get("TRAIN_OPS", "2,8").split(",")]
EVAL_OPS = int(ENV.get("EVAL_OPS", 8))
out = Path(f"/tmp/vprobe/{fmt}-{steps}-{share}-{lr_scale}-{ENV.get('TRAIN_OPS', '2,8')}")
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(src, out)
cfg = SandboxModelConfig()
arith = ArithConfig(**SANDBOX_ARITH)
tok = build_tokenizer()
prompt = V.prompt_config(cfg)
target = getattr(V, f"target_{fmt}", None) or V.verification_target
rng = random.Random(0)


def example(p, attempt):
    return V.encode_chat(tok, V.verification_chat(p, attempt, prompt), target(p, attempt))


train = generate_problems(with_steps(arith, *TRAIN_OPS), "pretrain", steps * 16)
verify = [example(p, p.detailed() if rng.random() < 0.1 else V.perturbed_attempt(p, rng)) for p in train]
solve = [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)]
held = generate_problems(with_steps(arith, EVAL_OPS, EVAL_OPS), "test", 64)
erng = random.Random(1)
attempts = [V.perturbed_attempt(p, erng) for p in held]
chats = [V.verification_chat(p, a, prompt) for p, a in zip(held, attempts)]
print("longest verify", max(len(i) for i, _ in verify), "median", sorted(len(i) for i, _ in verify)[len(verify) // 2], flush=True)


def evaluate(step):
    model.save_pretrained(out)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=400, seed=0)
    outs = sample_solutions(out, chats, params, batch_size=64)
    js = [judge_proposal(o[0], oracle_intervention(p, a), len(split_steps(a))) for o, p, a in zip(outs, held, attempts)]
    s = summarize(js)
    print(json.dumps({"step": step, **{k: round(v, 3) for k, v in s.items()}}), flush=True)
    return outs


model = LlamaForCausalLM.from_pretrained(out)
model.train()
opts = make_optimizers(cfg, model, steps=steps, scale=lr_scale)
pools = {"verify": verify, "solve": solve}
queues = {k: [] for k in pools}
losses = {k: [] for k in pools}
t0 = time.time()
for step in range(1, steps + 1):
    kind = "verify" if rng.random() < share else "solve"
    if not queues[kind]:
        queues[kind] = length_batches([len(i) for i, _ in pools[kind]], 16, rng=rng)
    batch = [pools[kind][i] for i in queues[kind].pop()]
    losses[kind].append(train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True))
    if step % 50 == 0:
        print(step, round(time.time() - t0), {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4) for k, v in losses.items()}, flush=True)
    if step % EVAL_EVERY == 0 or step == steps:
        model.eval()
        outs = evaluate(step)
        model.train()
for o, a in list(zip(outs, attempts))[:4]:
    print("ATTEMPT", a.replace("\n\n", " / ")[:200], "\nOUT", o[0][:400], flush=True)
