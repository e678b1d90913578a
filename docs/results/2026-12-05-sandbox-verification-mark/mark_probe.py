# Probe (issue 26, item 1): can the sandbox model judge an attempt if the judgement is made where
# the attempt departs from the right solution, instead of at the end of a line?
#
# The copy probe (../2026-12-05-sandbox-verification-copy/) taught the model to copy an attempt
# exactly, but a `ok`/`wrong` verdict written after each copied line stayed `ok`. Here the log
# copies the attempt and writes `!` just before the first character where a substep departs
# from the right step (the point where the model's own solving and its copy disagree), then the
# block with the right step. Two tasks besides solving:
#   mark:   dense: an attempt whose substeps are each off with probability 0.3, not carried on;
#           target: every substep copied, `!` before its first departing character;
#   verify: the real task, in the proposer's exact chat: the substeps copied up to the first
#           departure, `!`, then the block.
# PRE_STEPS short single-turn chats come first: mark (problem + 2-5 operation attempt) and, a
# COPY_SHARE of them, copy (the numbered attempt alone, half its operations off).
#   python docs/results/2026-12-05-sandbox-verification-mark/mark_probe.py MODEL_DIR STEPS VERIFY MARK LR_SCALE
# Env: RANDOM_STEPS (0), PRE_STEPS (300), COPY_SHARE (0.4), EVAL_EVERY (200), OUT.
import json
import os
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
from int_exp.interventions.prompts import number_steps
from int_exp.interventions.steps import split_steps
from int_exp.models.batching import length_batches

src, steps = sys.argv[1], int(sys.argv[2])
share_verify, share_mark, lr_scale = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
EVAL_EVERY = int(os.environ.get("EVAL_EVERY", "200"))
PRE_STEPS = int(os.environ.get("PRE_STEPS", "300"))
COPY_SHARE = float(os.environ.get("COPY_SHARE", "0.4"))  # of the short batches: copy (no problem shown)
out = Path(os.environ.get("OUT", f"/tmp/vprobe/mark-{steps}-{share_verify}-{share_mark}-{lr_scale}"))
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(src, out)
cfg = SandboxModelConfig()
arith = ArithConfig(**SANDBOX_ARITH)
tok = build_tokenizer()
assert len(tok("!", add_special_tokens=False)["input_ids"]) == 1
prompt = V.prompt_config(cfg)
rng = random.Random(0)
MARK = V.MARK
mark_prompt = {**prompt, "turn2": V.MARK_TURN2}


# The targets and attempts are the build's (int_exp/domains/arith/verification.py); run A used
# the first version of this probe, with the log lines numbered `i: ` (git history of this file).
perturbed, noisy = V.perturbed_attempt, V.noisy_attempt
mark_target, verify_target = V.mark_target, V.verification_target
SEP = "\n\n"


n = steps * 16
train = generate_problems(with_steps(arith, 4, 8), "pretrain", n)
verify, mark = [], []
for p in train:
    attempt = p.detailed() if rng.random() < 0.1 else perturbed(p, rng)
    verify.append(V.encode_chat(tok, V.verification_chat(p, attempt, prompt), verify_target(p, attempt)))
    a = noisy(p, rng)
    mark.append(V.encode_chat(tok, V.verification_chat(p, a, mark_prompt), mark_target(p, a)))
solve = [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)]
held = generate_problems(with_steps(arith, 8, 8), "test", 64)
erng = random.Random(1)
attempts = [perturbed(p, erng) for p in held]
chats = [V.verification_chat(p, a, prompt) for p, a in zip(held, attempts)]
mark_sources = [noisy(p, erng) for p in held[:32]]
mark_chats = [V.verification_chat(p, a, mark_prompt) for p, a in zip(held, mark_sources)]


def short_chat(p, a):  # the problem and the numbered attempt in one user turn
    return V.mark_chat(p, a, prompt, short=True)


def evaluate(step):
    model.save_pretrained(out)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=420, seed=0)
    outs = sample_solutions(out, chats + mark_chats, params, batch_size=48)
    js = [judge_proposal(o[0], oracle_intervention(p, a), len(split_steps(a))) for o, p, a in zip(outs, held, attempts)]
    exact_verify = sum(o[0].strip() == verify_target(p, a) for o, p, a in zip(outs, held, attempts))
    mark_outs = outs[len(chats):]
    exact = sum(o[0].strip() == mark_target(p, a) for o, p, a in zip(mark_outs, held, mark_sources))
    lines = [(g, w) for o, p, a in zip(mark_outs, held, mark_sources)
             for g, w in zip(o[0].strip().split(SEP), mark_target(p, a).split(SEP))]
    bad = [(g, w) for g, w in lines if MARK in w]
    print(json.dumps({"step": step, "verify_exact": exact_verify / len(held), "mark_exact": exact / len(mark_sources),
                      "mark_lines_right": round(sum(g == w for g, w in lines) / max(1, len(lines)), 3),
                      "marked_lines_right": round(sum(g == w for g, w in bad) / max(1, len(bad)), 3),
                      **{k: round(v, 3) for k, v in summarize(js).items()}}), flush=True)
    return outs[: len(chats)], mark_outs


model = LlamaForCausalLM.from_pretrained(out)
model.train()
t0 = time.time()
# RANDOM_STEPS > 0: first copy random strings of the solutions' characters (20-60 of them, ~130
# tokens a chat: cheap steps), the classic task on which copy (induction) heads form; 20% solving.
RANDOM_STEPS = int(os.environ.get("RANDOM_STEPS", "0"))
if RANDOM_STEPS:
    chars = "0123456789+-*= "

    def random_copy():
        text = "".join(rng.choice(chars) for _ in range(rng.randint(20, 60))).strip() or "0"
        return V.encode_chat(tok, [{"role": "user", "content": "Copy: " + text}], text)

    pools0 = {"copy": [random_copy() for _ in range(RANDOM_STEPS * 16)], "solve": solve}
    opts = make_optimizers(cfg, model, steps=RANDOM_STEPS, scale=lr_scale)
    queues = {k: [] for k in pools0}
    for step in range(1, RANDOM_STEPS + 1):
        kind = "copy" if rng.random() < 0.8 else "solve"
        if not queues[kind]:
            queues[kind] = length_batches([len(i) for i, _ in pools0[kind]], 16, rng=rng)
        batch = [pools0[kind][i] for i in queues[kind].pop()]
        loss = train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True)
        if step % 100 == 0:
            print("random", step, round(time.time() - t0), kind, round(loss, 4), flush=True)
if PRE_STEPS:
    short = generate_problems(with_steps(arith, 2, 5), "pretrain", PRE_STEPS * 16)
    pre = {"mark": [V.encode_chat(tok, short_chat(p, a), mark_target(p, a)) for p in short for a in [noisy(p, rng)]],
           "copy": [V.encode_chat(tok, V.copy_chat(a), number_steps(a)) for p in short for a in [noisy(p, rng, 0.5)]],
           "solve": solve}
    pre_weights = {"copy": COPY_SHARE, "mark": 0.8 - COPY_SHARE, "solve": 0.2}
    held_short = generate_problems(with_steps(arith, 5, 5), "test", 48)
    short_sources = [noisy(p, erng) for p in held_short]
    opts = make_optimizers(cfg, model, steps=PRE_STEPS, scale=lr_scale)
    queues = {k: [] for k in pre}
    for step in range(1, PRE_STEPS + 1):
        kind = rng.choices(list(pre_weights), weights=list(pre_weights.values()))[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(i) for i, _ in pre[kind]], 16, rng=rng)
        batch = [pre[kind][i] for i in queues[kind].pop()]
        loss = train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True)
        if step % 50 == 0:
            print("pre", step, round(time.time() - t0), kind, round(loss, 4), flush=True)
    model.eval()
    model.save_pretrained(out)
    souts = sample_solutions(out, [short_chat(p, a) for p, a in zip(held_short, short_sources)],
                             SamplingParams(n=1, temperature=0.0, max_tokens=400, seed=0), batch_size=48)
    lines = [(g, w) for o, p, a in zip(souts, held_short, short_sources)
             for g, w in zip(o[0].strip().split(SEP), mark_target(p, a).split(SEP))]
    bad = [(g, w) for g, w in lines if MARK in w]
    print(json.dumps({"pre_steps": PRE_STEPS, "short_exact": sum(o[0].strip() == mark_target(p, a) for o, p, a in
                      zip(souts, held_short, short_sources)) / len(souts),
                      "lines_right": round(sum(g == w for g, w in lines) / len(lines), 3),
                      "marked_lines_right": round(sum(g == w for g, w in bad) / max(1, len(bad)), 3),
                      "false_marks": sum(MARK in g and MARK not in w for g, w in lines)}), flush=True)
    for o, p, a in list(zip(souts, held_short, short_sources))[:3]:
        print("WANT", mark_target(p, a).replace(SEP, " / "), "\nGOT ", o[0].strip().replace(SEP, " / "), flush=True)
    model.train()
if steps:
    opts = make_optimizers(cfg, model, steps=steps, scale=lr_scale)
    pools = {"verify": verify, "mark": mark, "solve": solve}
    weights = [share_verify, share_mark, 1 - share_verify - share_mark]
    queues = {k: [] for k in pools}
    losses = {k: [] for k in pools}
    for step in range(1, steps + 1):
        kind = rng.choices(list(pools), weights=weights)[0]
        if not queues[kind]:
            queues[kind] = length_batches([len(i) for i, _ in pools[kind]], 16, rng=rng)
        batch = [pools[kind][i] for i in queues[kind].pop()]
        losses[kind].append(train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True))
        if step % 50 == 0:
            print(step, round(time.time() - t0), {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4)
                                                   for k, v in losses.items()}, flush=True)
        if step % EVAL_EVERY == 0 or step == steps:
            model.eval()
            outs, mouts = evaluate(step)
            model.train()
    for o, p, a in list(zip(outs, held, attempts))[:4]:
        print("WANT", verify_target(p, a).replace(SEP, " / "), "\nGOT ", o[0].strip().replace(SEP, " / "), flush=True)
    for o, p, a in list(zip(mouts, held, mark_sources))[:2]:
        print("MWANT", mark_target(p, a).replace(SEP, " / "), "\nMGOT ", o[0].strip().replace(SEP, " / "), flush=True)
