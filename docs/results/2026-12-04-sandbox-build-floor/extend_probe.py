"""Probe: continue training a weak sandbox build for N steps; print the card before/after."""
import json, sys, time, random, shutil
from pathlib import Path
from omegaconf import OmegaConf
import torch
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast
from int_exp.domains.arith.sandbox_model import pretrain_problems, encode_example, build_tokenizer
from int_exp.domains.arith.sandbox_training import batch_tensors, make_optimizers, train_step
from int_exp.domains.arith.sandbox_eval import evaluate_sandbox
from int_exp.models.batching import length_batches
from int_exp.models.precision import choose_bf16

src, out, steps, scale = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
card = json.loads(next(src.rglob("sandbox_card.json")).read_text())
mdir = next(src.rglob("sandbox_card.json")).parent
cfg = OmegaConf.create(card["config"]); arith = OmegaConf.create(card["arith"])
tok = build_tokenizer()
examples = [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)]
model = LlamaForCausalLM.from_pretrained(mdir).train()
opts = make_optimizers(cfg, model, steps=steps, scale=scale)
rng = random.Random(f"extend/{cfg.seed}")
lengths = [len(i) for i, _ in examples]
queue, losses = [], []
t0 = time.time()
for step in range(steps):
    if not queue:
        queue = length_batches(lengths, int(cfg.batch_size), rng=rng)
    batch = [examples[i] for i in queue.pop()]
    losses.append(train_step(model, opts, batch_tensors(batch, tok.pad_token_id), "cpu", True))
    if step % 100 == 99:
        print(step + 1, round(sum(losses[-100:]) / 100, 4), round(time.time() - t0), flush=True)
model.eval()
out.mkdir(parents=True, exist_ok=True)
for f in mdir.iterdir():
    if f.is_file(): shutil.copy(f, out / f.name)
model.save_pretrained(out)
for name, d in (("before", mdir), ("after", out)):
    s = evaluate_sandbox(d, arith, n_problems=64, n_samples=1, temperature=0.8, seed=0)["summary"]
    print(name, {k: round(v["accuracy"], 3) for k, v in s.items()}, flush=True)
