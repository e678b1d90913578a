"""Define-by-run pieces of Optuna search spaces (``hydra.sweeper.custom_search_space``)."""

from __future__ import annotations


def sft_lora_rank(cfg, trial) -> None:
    """Search the LoRA rank only when the sweep trains LoRA adapters (``sft.peft=lora``)."""
    if cfg.sft.peft == "lora":
        trial.suggest_categorical("sft.lora_r", [8, 16, 32, 64])
