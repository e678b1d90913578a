# Probe: the self-verification phase on a built phase-1 model (issue 26). Run from the repository root:
#   python docs/results/2026-12-04-sandbox-self-verification/phase2_probe.py PHASE1_DIR OUT_DIR '{"verify_steps": 600}'
import json
import shutil
import sys
import time
from pathlib import Path

from transformers import LlamaForCausalLM

from int_exp.domains.arith.sandbox_eval import evaluate_verification
from int_exp.domains.arith.sandbox_model import (
    SANDBOX_ARITH,
    _fit_verification,
    _save,
    build_tokenizer,
    encode_example,
    load_card,
    pretrain_problems,
)
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig
from int_exp.domains.arith.verification import prompt_config
from int_exp.runtime.hardware import thread_count, torch_threads

src, dst = sys.argv[1], sys.argv[2]
over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
cfg = SandboxModelConfig(**over)
arith = ArithConfig(**SANDBOX_ARITH)
shutil.rmtree(dst, ignore_errors=True); shutil.copytree(src, dst)
tok = build_tokenizer()
card = load_card(src)
bf16 = card["precision"]["precision"] == "bf16"
model = LlamaForCausalLM.from_pretrained(dst)
examples = [encode_example(tok, p.text, p.detailed()) for p in pretrain_problems(cfg, arith)]
t = time.time()
with torch_threads(thread_count(0)):
    stats = _fit_verification(cfg, arith, tok, model, examples, "cpu", Path(dst), bf16)
_save(model, tok, Path(dst))
print("phase2", json.dumps(stats), time.time() - t, flush=True)
t = time.time()
res = evaluate_verification(dst, arith, prompt_config(cfg), n_problems=48, temperature=1.0)
print("eval", time.time() - t)
print(json.dumps(res["summary"], indent=1))
for r in res["rows"][:6]:
    print(repr(r["attempt"][-120:]), "=>", r["proposal"], r["judgement"])
for r in res["rows"][:3]:
    print("PROPOSAL", r["proposal"][:400])
