#!/usr/bin/env bash
# Optuna study over InT SFT hyperparameters (learning rate log-uniform, epochs; LoRA rank with
# sft.peft=lora), SFT then eval without RL, maximising held-out pass@1. The study is stored in
# sweeps/optuna.db: running again with a larger n_trials adds trials to the same study.
# Config: conf/hparams_search/sft_optuna.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
python run.py -m hparams_search=sft_optuna experiment="${EXPERIMENT:-smoke}" hydra.sweeper.n_trials="${TRIALS:-3}" "$@"
