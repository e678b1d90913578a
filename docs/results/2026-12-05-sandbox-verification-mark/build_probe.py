# Probe (issue 26, item 1): the sandbox build with mark chats in its first phase, then the
# verification phase; prints the card (solve rate and the self proposer against the oracle).
#   python docs/results/2026-12-05-sandbox-verification-mark/build_probe.py OUT_DIR key=value ...
# (keys: model.sandbox fields, e.g. verify_steps=600 verify_pre_steps=0; run F's pretrain_mark_share
# existed from commit d71b3f8 to 12d4beb)
import json
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH, load_card, train_sandbox_model
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig

out = Path(sys.argv[1])
types = {f.name: type(getattr(SandboxModelConfig(), f.name)) for f in fields(SandboxModelConfig)}
overrides = {k: types[k](v) for k, v in (arg.split("=", 1) for arg in sys.argv[2:])}
cfg = replace(SandboxModelConfig(), **overrides)
t0 = time.time()
train_sandbox_model(cfg, ArithConfig(**SANDBOX_ARITH), out)
card = load_card(out)
print("build seconds", round(time.time() - t0), json.dumps(overrides))
print("eval", json.dumps({k: v["accuracy"] for k, v in card["eval"].items()}))
print("verification", json.dumps(card.get("verification", {}).get("summary", card.get("verification")), indent=1))
print("training", json.dumps(card.get("verification_training")))
