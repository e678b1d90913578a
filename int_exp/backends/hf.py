"""Hugging Face transformers backend: batched ``model.generate`` on CPU or one GPU.

Also home of what every local backend shares: the prompt rendering (:func:`render_chat`,
:func:`encode_chats`), so hf and vllm feed the model the very same token ids, and each prompt's
``max_tokens`` clipped to the context (:func:`encode_with_budgets`).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from typing import Any

from int_exp.backends.base import Chat, SamplingBackend, SamplingParams, continues_final_message, derive_seed
from int_exp.backends.cpu_attention import use_grouped_decoding

log = logging.getLogger(__name__)


def render_chat(tokenizer: Any, chat: Chat) -> str:
    """The prompt text for ``chat`` under the tokenizer's chat template.

    A chat ending with an assistant message is continued: the template's continue-final-message
    mode renders the partial message without the end-of-turn token and no new assistant header
    follows. Any other chat gets the generation prompt (the assistant header).
    """
    cont = continues_final_message(chat)
    return tokenizer.apply_chat_template(
        [dict(m) for m in chat],
        tokenize=False,
        add_generation_prompt=not cont,
        continue_final_message=cont,
    )


def encode_chats(tokenizer: Any, chats: Sequence[Chat]) -> list[list[int]]:
    """Token ids of each rendered chat (special tokens come from the template only, as in
    ``apply_chat_template(tokenize=True)``)."""
    texts = [render_chat(tokenizer, chat) for chat in chats]
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def eos_token_ids(tokenizer: Any, generation_config: Any = None) -> list[int]:
    ids: list[int] = []
    for source in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if source is None:
            continue
        for i in source if isinstance(source, (list, tuple)) else [source]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids


def token_budgets(lengths: Sequence[int], max_tokens: int, context: int | None) -> list[int]:
    """New tokens each prompt may get: ``max_tokens`` clipped so prompt + output fits ``context``
    (0 when the prompt alone fills it)."""
    if context is None:
        return [max_tokens] * len(lengths)
    return [max(0, min(max_tokens, context - n)) for n in lengths]


def warn_clipped(
    budgets: Sequence[int], lengths: Sequence[int], max_tokens: int, context: int | None
) -> None:
    clipped = sum(1 for b in budgets if 0 < b < max_tokens)
    empty = sum(1 for b in budgets if b <= 0)
    if clipped:
        log.warning(
            "%d prompt(s) + max_tokens=%d exceed the context (%s tokens): their max_tokens was clipped",
            clipped,
            max_tokens,
            context,
        )
    if empty:
        log.warning(
            "%d prompt(s) fill the whole context (%s tokens; longest prompt %d): they get empty completions",
            empty,
            context,
            max(lengths),
        )


def encode_with_budgets(
    tokenizer: Any, chats: Sequence[Chat], max_tokens: int, context: int | None
) -> tuple[list[list[int]], list[int]]:
    """Each chat's prompt ids (:func:`encode_chats`) and the new tokens it may get
    (:func:`token_budgets`), warning once about clipped prompts and prompts that fill the context."""
    ids = encode_chats(tokenizer, chats)
    lengths = [len(x) for x in ids]
    budgets = token_budgets(lengths, max_tokens, context)
    warn_clipped(budgets, lengths, max_tokens, context)
    return ids, budgets


def plan_batches(
    ids: Sequence[Sequence[int]], budgets: Sequence[int], max_tokens: int, batch_size: int
) -> list[tuple[list[int], int]]:
    """Group prompt indices into ``(batch, new_tokens)`` calls, longest prompts first.

    Prompts with the full budget are batched together; prompts whose budget the context clipped
    are batched among themselves (neighbours in length, so nearly equal budgets) and a batch
    gets its longest prompt's budget, so no row runs past the context. Prompts with no budget
    are left out (their completions stay empty).
    """
    from int_exp.models.batching import length_batches

    batches = []
    for group in ([i for i in range(len(ids)) if 0 < budgets[i] == max_tokens],
                  [i for i in range(len(ids)) if 0 < budgets[i] < max_tokens]):
        for rows in length_batches([len(ids[i]) for i in group], batch_size, longest_first=True):
            batch = [group[r] for r in rows]
            batches.append((batch, min(budgets[i] for i in batch)))
    return batches


class StepCounter:
    """A ``generate`` streamer that advances a progress bar by one per decoding step.

    transformers hands a streamer the prompt first, then each step's new tokens (one per row).
    """

    def __init__(self, bar: Any = None) -> None:
        self.bar = bar
        self.steps = -1  # the first put is the prompt

    def put(self, value: Any) -> None:
        if self.steps >= 0 and self.bar is not None:
            self.bar.update(1)
        self.steps += 1

    def end(self) -> None:
        pass

    def finish(self, budget: int) -> None:
        if self.bar is not None:
            self.bar.update(max(0, budget - max(self.steps, 0)))


def _model_context(model: Any) -> int | None:
    value = getattr(model.config, "max_position_embeddings", None)
    return int(value) if value else None


class HFBackend(SamplingBackend):
    """Batched sampling with transformers.

    Prompts are sorted by length (longest first) and generated ``batch_size`` at a time with
    ``num_return_sequences=n``; each batch is seeded with a seed derived from ``params.seed`` and
    its position, so a call is reproducible for a given seed, prompt set and batch size.
    """

    def __init__(
        self,
        model_path: str,
        *,
        dtype: str = "float32",
        device: str = "auto",
        batch_size: int = 16,
        max_context: int | None = None,
    ) -> None:
        import torch

        from int_exp.models import load_causal_lm, load_tokenizer, resolve_device

        self.device = resolve_device(device)
        self.tokenizer = load_tokenizer(model_path)
        self.model = load_causal_lm(model_path, dtype=dtype, device=self.device).eval()
        use_grouped_decoding(self.model)
        self.batch_size = max(1, int(batch_size))
        limits = [c for c in (max_context, _model_context(self.model)) if c]
        self.context = min(limits) if limits else None
        self.eos_ids = eos_token_ids(self.tokenizer, getattr(self.model, "generation_config", None))
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        )
        self._torch = torch

    def render(self, chat: Chat) -> str:
        return render_chat(self.tokenizer, chat)

    def sample(self, chats: list[Chat], params: SamplingParams, desc: str, first_index: int) -> list[list[str]]:
        from tqdm.auto import tqdm

        results: list[list[str]] = [[""] * params.n for _ in chats]
        ids, budgets = encode_with_budgets(self.tokenizer, chats, params.max_tokens, self.context)

        batches = plan_batches(ids, budgets, params.max_tokens, self.batch_size)
        # One bar over decoding steps (not batches): a big batch on a CPU takes minutes.
        with tqdm(total=sum(b for _, b in batches), desc=desc, unit="step", dynamic_ncols=True) as bar:
            for b, (batch, budget) in enumerate(batches):
                if len(batches) > 1:
                    bar.set_postfix_str(f"batch {b + 1}/{len(batches)}, {len(batch)} prompts")
                texts = self._generate_batch(
                    [ids[i] for i in batch], budget, params, derive_seed(params.seed, first_index, b), bar
                )
                for j, i in enumerate(batch):
                    results[i] = texts[j]
        return results

    def _generate_batch(
        self, prompts: list[list[int]], max_new_tokens: int, params: SamplingParams, seed: int, bar: Any
    ) -> list[list[str]]:
        torch = self._torch
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):  # left padding
            input_ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            attention_mask[r, width - len(p) :] = 1
        sample = params.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "eos_token_id": self.eos_ids or None,
            "pad_token_id": self.pad_id,
            "num_beams": 1,
        }
        steps = StepCounter(bar)
        kwargs["streamer"] = steps
        if sample:
            kwargs.update(
                do_sample=True,
                temperature=float(params.temperature),
                top_p=float(params.top_p) if params.top_p and params.top_p < 1 else 1.0,
                top_k=int(params.top_k) if params.top_k and params.top_k > 0 else 0,  # 0 disables
                num_return_sequences=params.n,
            )
        else:
            # Greedy decoding: one sequence, repeated n times (generate refuses n > 1 greedy).
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        # Seed a forked RNG state: the caller's (e.g. a trainer's) random stream is left untouched.
        cuda = [torch.device(self.device).index or 0] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=cuda), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device), **kwargs
            )
        steps.finish(max_new_tokens)  # rows that all stopped early leave the rest of the budget
        new = out[:, width:].tolist()
        texts = [self._decode(row) for row in new]
        per_prompt = params.n if sample else 1
        grouped = [texts[r * per_prompt : (r + 1) * per_prompt] for r in range(len(prompts))]
        return grouped if sample else [g * params.n for g in grouped]

    def _decode(self, tokens: list[int]) -> str:
        eos = set(self.eos_ids)
        for k, t in enumerate(tokens):
            if t in eos:
                tokens = tokens[:k]
                break
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def close(self) -> None:
        model = getattr(self, "model", None)
        if model is None:
            return
        self.model = None
        del model
        gc.collect()
        torch = self._torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
