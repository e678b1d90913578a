"""A toy trainer for tests/test_trainers.py: one module and one YAML, no edit to int_exp.

Plain torch SGD on the SFT targets (the loss on the tokens :func:`int_exp.sft.labels_of` keeps),
one example per step, ``sft.epochs`` passes at ``sft.learning_rate``; it saves the model as a
plain folder and writes ``toy_trainer.json`` (the loss of every step) beside the weights.
Selected by ``sft=toy`` (conf/sft/toy.yaml) once ``$INT_EXP_TRAINERS`` names this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int_exp.training import FunctionTrainer


@dataclass
class ToySettings:
    """The `sft` keys the toy reads: shared with the sft trainer, so the same types and defaults
    (conf/sft/toy.yaml sets its own values)."""

    learning_rate: float = 1e-6
    epochs: float = 4.0
    seed: int = 0
    max_length: int = 16384


def train(examples: list[dict], model_path: str, cfg: Any, out_dir: Path, *, reward_fn=None, log_fn=None) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    from int_exp.models import load_tokenizer
    from int_exp.sft import labels_of, tokenize_examples

    torch.manual_seed(int(cfg.seed))
    tokenizer = load_tokenizer(model_path)
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32)
    tokenized, _ = tokenize_examples(list(examples), tokenizer, int(cfg.max_length))
    optimizer = torch.optim.SGD(model.parameters(), lr=float(cfg.learning_rate))
    losses = []
    for _ in range(int(cfg.epochs)):
        for example in tokenized:
            ids = torch.tensor([example["input_ids"]])
            loss = model(input_ids=ids, labels=torch.tensor([labels_of(example)])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            if log_fn is not None:
                log_fn({"loss": losses[-1]}, len(losses))
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    (Path(out_dir) / "toy_trainer.json").write_text(json.dumps({"losses": losses}))
    return {"train_loss": sum(losses) / len(losses), "steps": len(losses), "first_loss": losses[0],
            "last_loss": losses[-1]}


TRAINER = FunctionTrainer(name="toy", section="sft", settings=ToySettings, fn=train)
