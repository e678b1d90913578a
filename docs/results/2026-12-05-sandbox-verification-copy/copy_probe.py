# Probe (issue 26, item 1): does dense copy supervision teach the sandbox solver to verify?
#
# The 2026-12-05 log-format probe found exact copying of the attempt to be the missing skill, and
# in a verification log that stops at the first wrong step only ONE copied token per example (the
# deviating one) disagrees with the solver's own prediction: the model can lower its loss by
# trusting its solver everywhere, which is the failure seen (it "copies" the right value).
# This probe trains, besides solving, two tasks in the proposer's exact chat:
#   copy:   turn 2 asks to copy an attempt whose lines are perturbed independently (half of them:
#           operand, result or carried value off), target `i: <substep i>` for every substep: every
#           perturbed token must come from the attempt, not from the solver;
#   verify: the real task, target `i: <substep i> ok` per substep until the first wrong one,
#           `i: <substep i> wrong: <right step>`, then the block (`verification.target_copy_judge`).
# Every EVAL_EVERY steps it decodes turn 2 greedily (gold turn 1) for 64 held-out 8-operation test
# problems with perturbed attempts, judged against the oracle. Run from the repository root:
#   python docs/results/2026-12-05-sandbox-verification-copy/copy_probe.py MODEL_DIR STEPS VERIFY COPY LR_SCALE
# (VERIFY, COPY: shares of batches; the rest solve.) Env: TRAIN_OPS=lo,hi (4,8), EVAL_EVERY (150), OUT.
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
from int_exp.domains.arith.problem import ArithProblem, apply_op, format_value
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
from int_exp.interventions.steps import format_intervention, join_steps, split_steps
from int_exp.models.batching import length_batches

src, steps = sys.argv[1], int(sys.argv[2])
share_verify, share_copy, lr_scale = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
EVAL_EVERY = int(os.environ.get("EVAL_EVERY", "150"))
TRAIN_OPS = [int(x) for x in os.environ.get("TRAIN_OPS", "4,8").split(",")]
out = Path(os.environ.get("OUT", f"/tmp/vprobe/copy-{steps}-{share_verify}-{share_copy}-{lr_scale}"))
shutil.rmtree(out, ignore_errors=True)
shutil.copytree(src, out)
cfg = SandboxModelConfig()
arith = ArithConfig(**SANDBOX_ARITH)
tok = build_tokenizer()
prompt = V.prompt_config(cfg)
rng = random.Random(0)


COPY_TURN2 = "Copy the attempt ({num_steps} substeps).\n\n{numbered_attempt}"


def noisy_attempt(problem: ArithProblem, rng: random.Random, *, rate: float = 0.5) -> str:
    """An attempt for the copy task: the right solution with each step independently off (its
    carried value, operand or result) with probability ``rate``, not carried on, so that most
    copied lines disagree with what the solver would write."""
    steps, value = [problem.start_step()], problem.values[0]
    for i, (op, operand) in enumerate(problem.ops):
        result = problem.values[i + 1]
        a, b, c = value, operand, result
        if rng.random() < rate:
            part = rng.choice("abc")
            a, b, c = (
                (V._slip(rng, a), b, c)
                if part == "a"
                else (a, b + rng.choice([1, 2, 3]), c)
                if part == "b"
                else (a, b, V._slip(rng, c))
            )
        steps.append(f"{format_value(a)} {op} {b} = {format_value(c)}")
        value = result
    answer = V._slip(rng, problem.answer) if rng.random() < rate else problem.answer
    return join_steps([*steps, f"The answer is \\boxed{{{format_value(answer)}}}."])


def target_copy(attempt: str) -> str:
    """The copy task's target: ``i: <substep i>`` for every substep."""
    return "\n".join(f"{i}: {step}" for i, step in enumerate(attempt.split("\n\n"), start=1))


# JUDGE=1: the copy task also judges every copied substep on its own line, `i: <substep i> ok` or
# `... wrong`, by local validity (the value carried from the previous substep, the problem's
# operation and operand, the arithmetic): the judgement gets as many examples as the copy.
JUDGE = os.environ.get("JUDGE") == "1"
if JUDGE:
    COPY_TURN2 = "Check every substep of the attempt ({num_steps} substeps).\n\n{numbered_attempt}"


def locally_right(problem: ArithProblem, steps: list[str]) -> list[bool]:
    """Whether each substep of a noisy attempt follows from the one before it and the problem."""
    import re

    verdicts, value = [], None
    for i, step in enumerate(steps):
        if i == 0:
            value = int(step.removeprefix("Start: "))
            verdicts.append(value == problem.start)
        elif i <= problem.num_steps:
            a, op, b, c = re.fullmatch(r"(-?\d+) (\S) (\d+) = (-?\d+)", step).groups()
            a, b, c = int(a), int(b), int(c)
            verdicts.append(a == value and (op, b) == tuple(problem.ops[i - 1]) and c == apply_op(a, op, b))
            value = c
        else:
            verdicts.append(step == f"The answer is \\boxed{{{value}}}.")
    return verdicts


def copy_target(problem: ArithProblem, attempt: str) -> str:
    if not JUDGE:
        return target_copy(attempt)
    steps = attempt.split("\n\n")
    return "\n".join(f"{i}: {s} {'ok' if good else 'wrong'}"
                     for i, (s, good) in enumerate(zip(steps, locally_right(problem, steps)), start=1))


def target_copy_judge(problem: ArithProblem, attempt: str) -> str:
    """Probe format: ``i: <substep i> ok`` up to the first wrong substep, ``i: <substep i> wrong:
    <right step>`` there, then the block (all ``ok`` and the empty block for a right attempt).
    The copied substep sits on the line that judges it, and the block copies that line's end."""
    from int_exp.domains.arith.oracle import diagnose

    steps = attempt.split("\n\n")
    diagnosis = diagnose(problem, attempt)
    if diagnosis.fix_content is None:
        return "\n".join([*(f"{i}: {s} ok" for i, s in enumerate(steps, start=1)), V.EMPTY_BLOCK])
    last = diagnosis.fix_location
    lines = [f"{i}: {steps[i - 1] if i <= len(steps) else '-'} ok" for i in range(1, last)]
    lines.append(f"{last}: {steps[last - 1] if last <= len(steps) else '-'} wrong: {diagnosis.fix_content}")
    return "\n".join([*lines, format_intervention(diagnosis.fix_content, last)])


copy_prompt = {**prompt, "turn2": COPY_TURN2}
n = steps * 16
train = generate_problems(with_steps(arith, *TRAIN_OPS), "pretrain", n)
verify, copy = [], []
for p in train:
    attempt = p.detailed() if rng.random() < 0.1 else V.perturbed_attempt(p, rng)
    verify.append(V.encode_chat(tok, V.verification_chat(p, attempt, prompt), target_copy_judge(p, attempt)))
    noisy = noisy_attempt(p, rng, rate=0.25 if JUDGE else 0.5)
    copy.append(V.encode_chat(tok, V.verification_chat(p, noisy, copy_prompt), copy_target(p, noisy)))
solve = [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)]
held = generate_problems(with_steps(arith, 8, 8), "test", 64)
erng = random.Random(1)
attempts = [V.perturbed_attempt(p, erng) for p in held]
chats = [V.verification_chat(p, a, prompt) for p, a in zip(held, attempts)]
copy_sources = [noisy_attempt(p, erng, rate=0.25 if JUDGE else 0.5) for p in held[:32]]
copy_chats = [V.verification_chat(p, a, copy_prompt) for p, a in zip(held, copy_sources)]
lengths = sorted(len(i) for i, _ in verify + copy)
print("longest", lengths[-1], "median", lengths[len(lengths) // 2], flush=True)


def evaluate(step):
    model.save_pretrained(out)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=400, seed=0)
    outs = sample_solutions(out, chats + copy_chats, params, batch_size=48)
    js = [
        judge_proposal(o[0], oracle_intervention(p, a), len(split_steps(a)))
        for o, p, a in zip(outs, held, attempts)
    ]
    exact = sum(o[0].strip() == copy_target(p, a) for o, p, a in zip(outs[len(chats) :], held, copy_sources))
    print(
        json.dumps(
            {
                "step": step,
                "copied_exactly": round(exact / len(copy_sources), 3),
                **{k: round(v, 3) for k, v in summarize(js).items()},
            }
        ),
        flush=True,
    )
    return outs[: len(chats)], outs[len(chats) :]


model = LlamaForCausalLM.from_pretrained(out)
model.train()
# PRE_STEPS > 0: first teach copying on short single-turn chats (1-4 operations, ~250 tokens),
# where a copy mechanism is cheap to form, then go on to the long chats below.
PRE_STEPS = int(os.environ.get("PRE_STEPS", "0"))
if PRE_STEPS:
    short = generate_problems(with_steps(arith, 1, 4), "pretrain", PRE_STEPS * 16)

    def short_example(p, a):
        chat = V.verification_chat(p, a, copy_prompt)[-1:]
        return V.encode_chat(tok, chat, target_copy(a))

    pre = {"copy": [short_example(p, noisy_attempt(p, rng)) for p in short], "solve": solve}
    held_short = generate_problems(with_steps(arith, 4, 4), "test", 32)
    short_sources = [noisy_attempt(p, erng) for p in held_short]
    short_chats = [V.verification_chat(p, a, copy_prompt)[-1:] for p, a in zip(held_short, short_sources)]
    pre_opts = make_optimizers(cfg, model, steps=PRE_STEPS, scale=lr_scale)
    pre_queues = {k: [] for k in pre}
    t0 = time.time()
    for step in range(1, PRE_STEPS + 1):
        kind = "copy" if rng.random() < 0.8 else "solve"
        if not pre_queues[kind]:
            pre_queues[kind] = length_batches([len(i) for i, _ in pre[kind]], 16, rng=rng)
        batch = [pre[kind][i] for i in pre_queues[kind].pop()]
        loss = train_step(model, pre_opts, batch_tensors(batch, tok.pad_token_id), "cpu", True)
        if step % 50 == 0:
            print("pre", step, round(time.time() - t0), kind, round(loss, 4), flush=True)
    model.eval()
    model.save_pretrained(out)
    params = SamplingParams(n=1, temperature=0.0, max_tokens=200, seed=0)
    souts = sample_solutions(out, short_chats, params, batch_size=32)
    exact = sum(o[0].strip() == target_copy(a) for o, a in zip(souts, short_sources))
    print(json.dumps({"pre_steps": PRE_STEPS, "short_copied_exactly": exact / len(short_sources)}), flush=True)
    print("SHORT SRC", short_sources[0].replace("\n\n", " / "), "\nSHORT OUT", souts[0][0].replace("\n", " / "))
    model.train()
opts = make_optimizers(cfg, model, steps=steps, scale=lr_scale)
pools = {"verify": verify, "copy": copy, "solve": solve}
weights = [share_verify, share_copy, 1 - share_verify - share_copy]
queues = {k: [] for k in pools}
losses = {k: [] for k in pools}
t0 = time.time()
for step in range(1, steps + 1):
    kind = rng.choices(list(pools), weights=weights)[0]
    if not queues[kind]:
        queues[kind] = length_batches([len(i) for i, _ in pools[kind]], 16, rng=rng)
    batch = [pools[kind][i] for i in queues[kind].pop()]
    losses[kind].append(train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True))
    if step % 50 == 0:
        print(
            step,
            round(time.time() - t0),
            {k: round(sum(v[-20:]) / max(1, len(v[-20:])), 4) for k, v in losses.items()},
            flush=True,
        )
    if step % EVAL_EVERY == 0 or step == steps:
        model.eval()
        outs, couts = evaluate(step)
        model.train()
for o, a in list(zip(outs, attempts))[:4]:
    print("ATTEMPT", a.replace("\n\n", " / ")[:220], "\nOUT", o[0][:420], flush=True)
for o, a in list(zip(couts, copy_sources))[:2]:
    print("COPY SRC", a.replace("\n\n", " / "), "\nCOPY OUT", o[0][:300].replace("\n", " / "), flush=True)
