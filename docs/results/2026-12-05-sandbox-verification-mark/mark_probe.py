# Probe (issue 26, item 1): can the sandbox model judge an attempt if the judgement is made where
# the attempt departs from the right solution, instead of at the end of a line?
#
# The copy probe (../2026-12-05-sandbox-verification-copy/) taught the model to copy an attempt
# exactly, but a `ok`/`wrong` verdict written after each copied line stayed `ok`. Here the log
# copies the numbered attempt and writes `!` just before the first character where a substep
# departs from the right step (where the model's own solving and its copy disagree), then the
# block. Targets, attempts and chats are the build's (int_exp/domains/arith/verification.py).
# Phases, each under a fresh warmup + cosine schedule at LR_SCALE x 3e-3, 20% solving in the first two:
#   RANDOM_STEPS: random strings copied (copy heads form there);
#   PRE_STEPS:    short mark chats (problem + 2-5 operation attempt in one turn), then a greedy
#                 check on 48 five-operation ones;
#   STEPS:        the proposer's chats: VERIFY share verification, MARK share marking, the rest
#                 solving; every EVAL_EVERY steps a greedy turn 2 (gold turn 1) on 64 held-out
#                 8-operation problems with perturbed attempts, judged against the oracle, and
#                 the mark task on 32 noisy attempts.
#   python docs/results/2026-12-05-sandbox-verification-mark/mark_probe.py MODEL_DIR STEPS VERIFY MARK LR_SCALE
# Env: RANDOM_STEPS (0), PRE_STEPS (300), EVAL_EVERY (200), OUT, SOLVE_REF (0: the share of the long
# phase's batches that are turn 1, the problem and its terse reference answered with the detailed
# solution; taken from the solving share; from run I on, ../2026-12-05-sandbox-verification-tail/),
# OWN_PROBLEMS and OWN_SHARE (0, 0: verification chats on the start model's own failed samples of
# that many pretrain problems, a share of the long phase's batches taken from solving; run L).
# Runs A-E used earlier versions of this file (log lines `i: `, errors not carried, a copy task
# on attempts: COPY_SHARE): see its git history.
import json
import os
import random
import shutil
import sys
import time
from dataclasses import replace
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
from int_exp.domains.arith.verification_training import own_attempts
from int_exp.interventions.judging import judge_proposal, summarize
from int_exp.interventions.steps import split_steps
from int_exp.models.batching import length_batches

src, steps = sys.argv[1], int(sys.argv[2])
share_verify, share_mark, lr_scale = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
EVAL_EVERY = int(os.environ.get("EVAL_EVERY", "200"))
PRE_STEPS = int(os.environ.get("PRE_STEPS", "300"))
RANDOM_STEPS = int(os.environ.get("RANDOM_STEPS", "0"))
SOLVE_REF = float(os.environ.get("SOLVE_REF", "0"))
OWN_PROBLEMS, OWN_SHARE = int(os.environ.get("OWN_PROBLEMS", "0")), float(os.environ.get("OWN_SHARE", "0"))
out = Path(os.environ.get("OUT", f"/tmp/vprobe/mark-{steps}-{share_verify}-{share_mark}-{lr_scale}"))
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(src, out)
cfg = SandboxModelConfig()
arith = ArithConfig(**SANDBOX_ARITH)
tok = build_tokenizer()
prompt = V.prompt_config(cfg)
rng, erng = random.Random(0), random.Random(1)
SEP = "\n\n"


def encode_verify(p):
    attempt = p.detailed() if rng.random() < 0.1 else V.perturbed_attempt(p, rng)
    return V.encode_chat(tok, V.verification_chat(p, attempt, prompt), V.verification_target(p, attempt))


def encode_mark(p, short=False):
    attempt = V.noisy_attempt(p, rng)
    return V.encode_chat(tok, V.mark_chat(p, attempt, prompt, short=short), V.mark_target(p, attempt))


train = generate_problems(with_steps(arith, 4, 8), "pretrain", steps * 16)
pools = {"verify": [encode_verify(p) for p in train], "mark": [encode_mark(p) for p in train],
         "solve_ref": [V.encode_chat(tok, V.solve_with_reference_chat(p, prompt), p.detailed()) for p in train],
         "solve": [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)],
         "copy": [V.encode_chat(tok, *V.copy_string_chat(rng)) for _ in range(RANDOM_STEPS * 16)],
         "mark_short": [encode_mark(p, short=True)
                        for p in generate_problems(with_steps(arith, 2, 5), "pretrain", PRE_STEPS * 16)]}
if OWN_PROBLEMS:  # the start model's own failures (temperature 1), as the build samples them
    own = own_attempts(replace(cfg, verify_own_problems=OWN_PROBLEMS), arith, Path(src))
    targets = [(p, a, V.verification_target(p, a)) for p, a in own]
    pools["own"] = [V.encode_chat(tok, V.verification_chat(p, a, prompt), t) for p, a, t in targets if t]
    print("own failures", len(own), "described", len(pools["own"]), flush=True)
held = generate_problems(with_steps(arith, 8, 8), "test", 64)
attempts = [V.perturbed_attempt(p, erng) for p in held]
mark_sources = [V.noisy_attempt(p, erng) for p in held[:32]]
held_short = generate_problems(with_steps(arith, 5, 5), "test", 48)
short_sources = [V.noisy_attempt(p, erng) for p in held_short]


def sample(chats, max_tokens):
    model.eval()
    model.save_pretrained(out)
    outs = sample_solutions(out, chats, SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens, seed=0),
                            batch_size=48)
    model.train()
    return [o[0].strip() for o in outs]


def mark_scores(outs, problems, sources):
    """Exact marked copies, lines right, departures marked right (lines the target marks), false marks."""
    wants = [V.mark_target(p, a) for p, a in zip(problems, sources)]
    lines = [(g, w) for o, want in zip(outs, wants) for g, w in zip(o.split(SEP), want.split(SEP))]
    marked = [(g, w) for g, w in lines if V.MARK in w]
    return {"mark_exact": round(sum(o == w for o, w in zip(outs, wants)) / len(outs), 3),
            "lines_right": round(sum(g == w for g, w in lines) / max(1, len(lines)), 3),
            "marked_lines_right": round(sum(g == w for g, w in marked) / max(1, len(marked)), 3),
            "false_marks": sum(V.MARK in g and V.MARK not in w for g, w in lines)}


def show(label, wants, outs, n):
    for want, got in list(zip(wants, outs))[:n]:
        print(f"{label}WANT", want.replace(SEP, " / "), f"\n{label}GOT ", got.replace(SEP, " / "), flush=True)


def evaluate(step):
    outs = sample([V.verification_chat(p, a, prompt) for p, a in zip(held, attempts)]
                  + [V.mark_chat(p, a, prompt) for p, a in zip(held, mark_sources)], 420)
    verify_outs, mark_outs = outs[: len(held)], outs[len(held):]
    judged = [judge_proposal(o, oracle_intervention(p, a), len(split_steps(a)))
              for o, p, a in zip(verify_outs, held, attempts)]
    exact = sum(o == V.verification_target(p, a) for o, p, a in zip(verify_outs, held, attempts)) / len(held)
    turn1 = sample([V.solve_with_reference_chat(p, prompt) for p in held], 200)
    exact_turn1 = round(sum(o == p.detailed() for o, p in zip(turn1, held)) / len(held), 3)
    print(json.dumps({"step": step, "turn1_exact": exact_turn1, "verify_exact": exact, **mark_scores(mark_outs, held, mark_sources),
                      **{k: round(v, 3) for k, v in summarize(judged).items()}}), flush=True)
    return verify_outs, mark_outs


def train(weights, n_steps, label, every=50, on_step=None):
    """``n_steps`` batches of 16, each of one task drawn by ``weights``; prints the losses."""
    opts = make_optimizers(cfg, model, steps=n_steps, scale=lr_scale)
    queues, losses = {k: [] for k in weights}, {k: [] for k in weights}
    for step in range(1, n_steps + 1):
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(i) for i, _ in pools[kind]], 16, rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True))
        if step % every == 0:
            print(label, step, round(time.time() - t0),
                  {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4) for k, v in losses.items()}, flush=True)
        if on_step:
            on_step(step)


model = LlamaForCausalLM.from_pretrained(out)
model.train()
t0 = time.time()
if RANDOM_STEPS:
    train({"copy": 0.8, "solve": 0.2}, RANDOM_STEPS, "random", every=100)
if PRE_STEPS:
    train({"mark_short": 0.8, "solve": 0.2}, PRE_STEPS, "pre")
    outs = sample([V.mark_chat(p, a, prompt, short=True) for p, a in zip(held_short, short_sources)], 400)
    print(json.dumps({"pre_steps": PRE_STEPS, **mark_scores(outs, held_short, short_sources)}), flush=True)
    show("", [V.mark_target(p, a) for p, a in zip(held_short, short_sources)], outs, 3)
if steps:
    results = {}
    train({"verify": share_verify, "mark": share_mark, "solve_ref": SOLVE_REF, "own": OWN_SHARE,
           "solve": 1 - share_verify - share_mark - SOLVE_REF - OWN_SHARE}, steps, "long",
          on_step=lambda s: results.update(last=evaluate(s)) if s % EVAL_EVERY == 0 or s == steps else None)
    verify_outs, mark_outs = results["last"]
    show("", [V.verification_target(p, a) for p, a in zip(held, attempts)], verify_outs, 4)
    show("M", [V.mark_target(p, a) for p, a in zip(held, mark_sources)], mark_outs, 2)
