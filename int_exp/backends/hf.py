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
from int_exp.config import BackendConfig

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
            "%d prompt(s) fill the whole context (%s tokens; longest prompt %d): they get no samples",
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
    ids: Sequence[Sequence[int]], budgets: Sequence[int], max_tokens: int, batch_size: int,
    batch_tokens: int | None = None,
) -> list[tuple[list[int], int]]:
    """Group prompt indices into ``(batch, new_tokens)`` calls, longest prompts first.

    Prompts with the full budget are batched together; prompts whose budget the context clipped
    are batched among themselves (neighbours in length, so nearly equal budgets) and a batch
    gets its longest prompt's budget, so no row runs past the context. Prompts with no budget
    are left out (they get no samples). A batch holds at most ``batch_size`` prompts and,
    with ``batch_tokens``, at most that many cache positions per sample (prompts x (longest
    prompt + new tokens)): long prompts come in smaller batches, short ones in bigger.
    """
    from int_exp.models.batching import length_batches

    batches = []
    for group in ([i for i in range(len(ids)) if 0 < budgets[i] == max_tokens],
                  [i for i in range(len(ids)) if 0 < budgets[i] < max_tokens]):
        lengths = [len(ids[i]) + max_tokens for i in group]
        for rows in length_batches(lengths, batch_size, longest_first=True, max_padded_tokens=batch_tokens):
            batch = [group[r] for r in rows]
            batches.append((batch, min(budgets[i] for i in batch)))
    return batches


def context_limit(max_context: int | None, model_config: Any) -> int | None:
    """The context a prompt and its completion must fit: ``model.max_context`` or the model's own
    ``max_position_embeddings``, whichever is smaller (None when neither is set). RL skips
    prompts against the same limit (stages/rl.py)."""
    limits = [int(c) for c in (max_context, getattr(model_config, "max_position_embeddings", None)) if c]
    return min(limits) if limits else None


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
        device: str = BackendConfig.device,
        batch_size: int = BackendConfig.batch_size,
        batch_tokens: int | None = BackendConfig.batch_tokens,
        max_context: int | None = None,
    ) -> None:
        import torch

        from int_exp.models import load_causal_lm, load_tokenizer, resolve_device

        self.device = resolve_device(device)
        self.tokenizer = load_tokenizer(model_path)
        self.model = load_causal_lm(model_path, dtype=dtype, device=self.device).eval()
        use_grouped_decoding(self.model)
        self.batch_size = max(1, int(batch_size))
        self.batch_tokens = int(batch_tokens) if batch_tokens else None
        self.context = context_limit(max_context, self.model.config)
        self.eos_ids = eos_token_ids(self.tokenizer, getattr(self.model, "generation_config", None))
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        )
        self._torch = torch

    def render(self, chat: Chat) -> str:
        return render_chat(self.tokenizer, chat)

    def sample(self, chats: list[Chat], params: SamplingParams, desc: str, first_index: int) -> list[list[str]]:
        from tqdm.auto import tqdm

        results: list[list[str]] = [[] for _ in chats]  # a prompt that fills the context gets no samples
        ids, budgets = encode_with_budgets(self.tokenizer, chats, params.max_tokens, self.context)

        batches = plan_batches(ids, budgets, params.max_tokens, self.batch_size, self.batch_tokens)
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
        from int_exp.backends.decoding import decode

        sample = params.temperature > 0
        per_prompt = params.n if sample else 1  # greedy: one decode, repeated n times
        steps = [0]

        def on_step() -> None:
            steps[0] += 1
            if bar is not None:
                bar.update(1)

        with self._torch.inference_mode():
            new = decode(self.model, prompts, max_new_tokens, params, seed, self.eos_ids, self.pad_id, on_step,
                         copies=per_prompt)
        if bar is not None:
            bar.update(max_new_tokens - steps[0])  # rows that all stopped early leave the rest of the budget
        texts = [self._decode(tokens) for tokens in new]
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


def build(opts: dict[str, Any], model_path: str, *, dtype: str, max_context: int | None) -> HFBackend:
    """Backend ``hf`` from the ``backend`` options (complete: :func:`int_exp.backends.engines.options`)."""
    return HFBackend(model_path, dtype=dtype, device=opts["device"], batch_size=int(opts["batch_size"]),
                     batch_tokens=opts["batch_tokens"], max_context=max_context)
