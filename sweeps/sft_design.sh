#!/usr/bin/env bash
# The paper's SFT design ablation (prefix cloning x suffix cloning x correctness filtering) as a grid.
set -euo pipefail
cd "$(dirname "$0")/.."
python run.py -m experiment="${EXPERIMENT:-sandbox}" \
  sft.clone_prefix=true,false sft.clone_suffix=true,false intervention.correctness_filter=true,false "$@"
