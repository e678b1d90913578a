"""Shared fixtures: real (tiny) assets built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A random tiny Llama with SmolLM2's real tokenizer and chat template (built in ~7 s)."""
    from int_exp.config import TinyModelConfig
    from int_exp.models import build_tiny

    out = tmp_path_factory.mktemp("tiny-model")
    build_tiny(TinyModelConfig(), out)
    return out
