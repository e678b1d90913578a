#!/usr/bin/env bash
# The paper's comparison as one grid: every variant, ablation and baseline, then the report.
# Rollouts and interventions are sampled once and shared through the stage cache.
#   bash sweeps/ablations.sh                                   # sandbox on a CPU
#   EXPERIMENT=paper bash sweeps/ablations.sh hydra/launcher=slurm hydra.launcher.partition=gpu
set -euo pipefail
cd "$(dirname "$0")/.."
python run.py -m experiment="${EXPERIMENT:-sandbox}" \
  variant=base,rl_only,int,int_no_prefix,int_with_suffix,int_no_filter,sft_ref,sft_reflect,hint_rl "$@"
