#!/usr/bin/env bash
# Fill .wheels/ (git-ignored) for benchmarks/gpu_check.sh: our package and the pure-Python pieces
# the check imports beyond torch, at the versions installed here, plus SmolLM2's tokenizer.
# Run here, with the venv active: bash benchmarks/build_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .wheels && mkdir -p .wheels
python -m pip wheel --no-deps -q -w .wheels . && rm -rf build  # pip leaves its build folder here
python -m pip download --no-deps -q -d .wheels \
    "transformers==$(python -c 'import transformers; print(transformers.__version__)')" \
    "trl==$(python -c 'import trl; print(trl.__version__)')" \
    "accelerate==$(python -c 'import accelerate; print(accelerate.__version__)')" \
    "omegaconf==$(python -c 'import omegaconf; print(omegaconf.__version__)')" \
    "tqdm==$(python -c 'import tqdm; print(tqdm.__version__)')" \
    "tokenizers==$(python -c 'import tokenizers; print(tokenizers.__version__)')" \
    "safetensors==$(python -c 'import safetensors; print(safetensors.__version__)')" \
    "huggingface_hub==$(python -c 'import huggingface_hub; print(huggingface_hub.__version__)')" \
    "datasets==$(python -c 'import datasets; print(datasets.__version__)')" \
    "regex==$(python -c 'import regex; print(regex.__version__)')" \
    "antlr4-python3-runtime==4.9.3" "pyyaml==$(python -c 'import yaml; print(yaml.__version__)')"
# Not here: pyarrow, pandas and numpy (datasets needs them; ~70 MB of wheels, more than a device run
# carries): the GPU machine must have them, or the check stops at the install with pip's message.
python - <<'PY'
from int_exp.models import smollm2_tokenizer
smollm2_tokenizer().save_pretrained(".wheels/tokenizer")
PY
du -sh .wheels
