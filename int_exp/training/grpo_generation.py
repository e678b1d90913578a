"""GRPO's sampling through int_exp's decoder instead of ``model.generate`` (``rl.fast_generation``).

Without vLLM, TRL's GRPOTrainer samples each step's completions with ``model.generate`` and its
dynamic cache, the slowest way to decode on a CPU (``python benchmarks/sampling_speed.py``: plain
dynamic-cache generate is the slowest engine there). :func:`trainer_class` returns a GRPOTrainer
whose ``_generate_single_turn`` runs :func:`int_exp.backends.decoding.decode` instead: a
preallocated cache, each prompt encoded once for its group's completions, finished rows dropped,
the same sampling rules (temperature, top-k, top-p) as ``generate``. Everything else (rewards,
advantages, the loss) stays TRL's. It applies to single-process text-only sampling without
``min_p`` or a repetition penalty; anything else falls through to TRL's own path.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from int_exp.backends.base import SamplingParams, derive_seed


def groups(prompt_ids: list[list[int]], copies: int) -> tuple[list[list[int]], int]:
    """The group heads and ``copies`` when the batch is runs of ``copies`` identical prompts (TRL's
    sampler puts a prompt's ``num_generations`` copies side by side), else every prompt once.

    >>> groups([[1, 2], [1, 2], [3], [3]], 2)
    ([[1, 2], [3]], 2)
    >>> groups([[1], [1], [2]], 2)
    ([[1], [1], [2]], 1)
    """
    heads = prompt_ids[::copies] if copies > 1 and len(prompt_ids) % copies == 0 else []
    if heads and all(prompt_ids[i] == heads[i // copies] for i in range(len(prompt_ids))):
        return [list(p) for p in heads], copies
    return [list(p) for p in prompt_ids], 1


def usable(trainer: Any, images: Any, multimodal_fields: Any) -> bool:
    """Whether the fast path samples what TRL's own would (else TRL's own path runs)."""
    return (not trainer.use_vllm and not getattr(trainer, "use_transformers_continuous_batching", False)
            and not images and not multimodal_fields and trainer.accelerator.num_processes == 1
            and not trainer.min_p and float(trainer.repetition_penalty or 1.0) == 1.0)


@cache
def trainer_class():
    """TRL's GRPOTrainer with :mod:`int_exp`'s decoder for its transformers generation."""
    import torch
    from trl import GRPOTrainer

    from int_exp.backends.decoding import decode

    class FastGenerationGRPOTrainer(GRPOTrainer):
        _int_exp_calls = 0

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,
                                  has_tool_images=False):
            if not usable(self, images, multimodal_fields):
                return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                     has_tool_images)
            params = SamplingParams(temperature=float(self.temperature), top_p=float(self.top_p or 1.0),
                                    top_k=int(self.top_k or 0), max_tokens=int(self.max_completion_length))
            # A fresh, reproducible stream per call: the run's seed and the call's number.
            seed = derive_seed(int(self.args.seed), self._int_exp_calls)
            self._int_exp_calls += 1
            prompts, copies = groups([list(p) for p in prompt_ids], int(num_generations))
            model = self.accelerator.unwrap_model(self.model_wrapped)
            was_training = model.training
            model.eval()
            try:
                with torch.no_grad():
                    completions = decode(model, prompts, params.max_tokens, params, seed, self.eos_token_ids,
                                         self._tokenizer.pad_token_id, copies=copies)
            finally:
                model.train(was_training)
            return completions, None

    return FastGenerationGRPOTrainer
