# Probe: the sandbox solver alone (phase 1, verify_steps=0, no card eval). Run from the repository root:
#   python docs/results/2026-12-04-sandbox-self-verification/phase1_build.py OUT_DIR SEED
import sys
import time

from int_exp.domains.arith.sandbox_model import SANDBOX_ARITH, train_sandbox_model
from int_exp.domains.arith.settings import ArithConfig, SandboxModelConfig

seed=int(sys.argv[2]) if len(sys.argv)>2 else 0
cfg=SandboxModelConfig(verify_steps=0, eval_problems=0, seed=seed)
t=time.time()
train_sandbox_model(cfg, ArithConfig(**SANDBOX_ARITH), sys.argv[1])
print("build", time.time()-t)
