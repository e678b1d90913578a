#!/usr/bin/env bash
# The GPU check, for a single-GPU machine that has torch but none of our other packages and no
# network: installs int-exp and what the check needs from .wheels/ (an ignored folder of the working
# tree, filled here by `bash benchmarks/build_wheels.sh`), then runs benchmarks/gpu_check.py.
# Within 10 minutes on one GPU. Usage: bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --no-index --find-links .wheels --no-deps .wheels/*.whl >/dev/null
timeout 600 python benchmarks/gpu_check.py --device cuda --tokenizer .wheels/tokenizer
