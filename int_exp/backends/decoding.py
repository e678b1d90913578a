"""The hf backend's decoding loop: sampling with a preallocated KV cache and finished rows dropped.

``transformers``' ``generate`` grows its default cache by concatenation (every step copies the
whole cache) and keeps decoding rows that have finished until the longest one does; its static
cache avoids the copies but attends over the full preallocated length from the first step. Here
each layer's keys and values live in one buffer allocated for prompt + budget, a step writes one
column and attends over the filled part only, and once a quarter of the live rows have finished
they are dropped from the batch (cache, mask and positions together), so the cost of a step
follows the rows still decoding. With ``copies`` samples per prompt the prompt is encoded once
and, for sdpa models, its cache is kept once and read by all its copies
(:mod:`int_exp.backends.shared_prefix`; eval of the sandbox 1.6x faster); a prompt then leaves
the batch when all its copies have finished.

Sampling is ``generate``'s: temperature, then top-k, then top-p (the smallest set of tokens whose
probability reaches ``top_p``, at least one), one ``torch.multinomial`` draw per row from a
generator seeded per batch, so a call is reproducible for a given seed and batch plan.
``temperature=0`` is greedy (argmax), as is ``generate`` with ``do_sample=False``.

On a GPU every tensor the model reads is made on its device once and stays there (the next
step's input is the chosen tokens themselves); a step waits for the device once, to copy its new
tokens to the host, where the loop decides which rows have finished. Rows leave the batch at the
same steps on every device, so a CPU run samples what it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

from int_exp.backends import shared_prefix
from int_exp.runtime import threads

COMPACT_SHARE = 0.25  # drop finished rows once they are this share of the live batch
# With a shared prompt cache, finished rows of unfinished prompts keep decoding; once they are this
# share of the batch, each row gets its own copy of the cache again and leaves when it finishes.
UNSHARE_SHARE = 0.5


class PreallocatedLayer(DynamicLayer):
    """A cache layer writing into one buffer of ``capacity`` positions (no concatenation)."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity, self.length = capacity, 0

    def lazy_initialization(self, key_states, value_states) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        self.key_buffer = key_states.new_empty((*key_states.shape[:2], self.capacity, key_states.shape[3]))
        self.value_buffer = value_states.new_empty((*value_states.shape[:2], self.capacity, value_states.shape[3]))
        self.is_initialized = True

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def select_rows(self, rows) -> None:
        rows = rows.to(self.key_buffer.device)  # a no-op for the decoder, which passes device indices
        self.key_buffer = self.key_buffer.index_select(0, rows)
        self.value_buffer = self.value_buffer.index_select(0, rows)
        self.keys, self.values = self.key_buffer[:, :, : self.length], self.value_buffer[:, :, : self.length]


def filter_logits(logits: Any, top_k: int, top_p: float) -> Any:
    """``generate``'s top-k then top-p filters: removed tokens get ``-inf`` (at least one stays)."""
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = torch.sort(logits, descending=False)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - top_p)
        remove[..., -1:] = False
        logits = logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return logits


def choose(logits: Any, params: Any, generator: Any) -> Any:
    """One token per row: argmax when ``temperature`` is 0, else a draw from the filtered softmax."""
    if params.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits.float() / float(params.temperature), int(params.top_k or 0), float(params.top_p or 1.0))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


class _Batch:
    """The live rows of one decoding batch.

    What the model reads (prompt ids, attention mask, next positions, cache) lives on the model's
    device; the bookkeeping the loop reads every step (each row's original index, which rows are
    done) lives on the host, so a step costs one device-to-host copy: its new tokens."""

    def __init__(self, model: Any, prompts: Sequence[Sequence[int]], budget: int, pad_id: int) -> None:
        width = max(len(p) for p in prompts)
        self.device = model.device
        self.rows = torch.arange(len(prompts))
        ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        # Every live row writes a token at every step, so the generated columns are ones from the
        # start: a step then only widens the slice it reads (no write, no copy to the device).
        mask = torch.ones((len(prompts), width + budget), dtype=torch.long)
        for r, prompt in enumerate(prompts):  # left padding
            ids[r, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            mask[r, : width - len(prompt)] = 0
        self.ids, self.mask = ids.to(self.device), mask.to(self.device)
        self.width, self.filled = width, width
        # of the next token
        self.positions = torch.tensor([len(p) for p in prompts], dtype=torch.long, device=self.device)
        layers = model.config.get_text_config(decoder=True).num_hidden_layers
        self.cache = Cache(layers=[PreallocatedLayer(width + budget) for _ in range(layers)])
        self.done = torch.zeros(len(prompts), dtype=torch.bool)

    def prefill_positions(self):
        prompt_mask = self.mask[:, : self.width]
        return (prompt_mask.cumsum(-1) - 1).masked_fill(prompt_mask == 0, 0)

    def repeat(self, copies: int) -> None:
        """Each row ``copies`` times, adjacent (after the prefill: one prompt encoding serves all)."""
        index = torch.arange(len(self.rows)).repeat_interleave(copies)
        self._select(index)
        self.rows = torch.arange(len(index))

    def share(self, copies: int) -> None:
        """Like :meth:`repeat`, but the prompts' keys and values stay one per prompt
        (:mod:`int_exp.backends.shared_prefix`)."""
        budget = self.mask.shape[1] - self.width
        self.cache.layers = [
            shared_prefix.SharedPrefixLayer(layer.key_buffer[:, :, : self.width], layer.value_buffer[:, :, : self.width],
                                            self.mask[:, : self.width], copies, budget)
            for layer in self.cache.layers
        ]
        index = torch.arange(len(self.rows)).repeat_interleave(copies)
        self.positions, self.done = self.positions[index.to(self.device)], self.done[index]
        self.rows, self.copies = torch.arange(len(index)), copies

    def unshare(self) -> None:
        """Back to :meth:`repeat`'s layout, one cache copy per row, so rows can leave one by one."""
        layers = []
        for shared in self.cache.layers:
            layer = PreallocatedLayer(self.mask.shape[1])
            generated = slice(0, shared.generated)
            layer.update(torch.cat([shared.prefix_keys.repeat_interleave(self.copies, 0),
                                    shared.key_buffer[:, :, generated]], dim=2),
                         torch.cat([shared.prefix_values.repeat_interleave(self.copies, 0),
                                    shared.value_buffer[:, :, generated]], dim=2))
            layers.append(layer)
        self.cache.layers = layers
        self.mask = self.mask.repeat_interleave(self.copies, 0)

    def keep_prompts(self, live, tokens):
        """Drop every prompt not in the boolean ``live`` (one entry per prompt, on the host), with
        its rows; returns the kept rows' ``tokens``."""
        index = live.nonzero().squeeze(-1)
        rows = (index[:, None] * self.copies + torch.arange(self.copies)).reshape(-1)
        on_device, rows_on_device = index.to(self.device), rows.to(self.device)
        self.mask, self.positions = self.mask[on_device], self.positions[rows_on_device]
        self.done, self.rows = self.done[rows], self.rows[rows]
        for layer in self.cache.layers:
            layer.select_prompts(on_device, rows_on_device)
        return tokens[rows_on_device]

    def keep(self, live, tokens):
        """Drop every row not in the boolean ``live`` (on the host); returns the kept rows' ``tokens``."""
        index = live.nonzero().squeeze(-1)
        on_device = self._select(index)
        self.rows = self.rows[index]
        return tokens[on_device]

    def _select(self, index):
        """Keep the rows ``index`` (on the host); returns the index on the model's device."""
        on_device = index.to(self.device)
        self.mask, self.positions, self.done = self.mask[on_device], self.positions[on_device], self.done[index]
        for layer in self.cache.layers:
            layer.select_rows(on_device)
        return on_device


def decode(model: Any, prompts: Sequence[Sequence[int]], budget: int, params: Any, seed: int,
           eos_ids: Sequence[int], pad_id: int, on_step: Callable[[], None] = lambda: None,
           copies: int = 1) -> list[list[int]]:
    """New tokens for ``copies`` rows per prompt (a prompt's rows adjacent), at most ``budget``
    each, ending at the first end-of-sequence token (kept, so the caller sees why a row stopped).
    Each prompt is encoded once; its rows then read its cache (shared_prefix), or a copy of it
    where the model's attention is not sdpa-based."""
    batch = _Batch(model, prompts, budget, pad_id)
    if copies == 1 or not shared_prefix.can_share(model):
        return _decode(model, batch, budget, params, seed, eos_ids, on_step, copies)
    with shared_prefix.attending(model):
        return _decode(model, batch, budget, params, seed, eos_ids, on_step, copies, shared=True)


def _decode(model: Any, batch: _Batch, budget: int, params: Any, seed: int, eos_ids: Sequence[int],
            on_step: Callable[[], None], copies: int, shared: bool = False) -> list[list[int]]:
    generator = torch.Generator(device=model.device).manual_seed(int(seed))
    eos = torch.tensor(list(eos_ids) or [-1], dtype=torch.long)
    out: list[list[int]] = [[] for _ in range(len(batch.rows) * copies)]
    logits = model(input_ids=batch.ids, attention_mask=batch.mask[:, : batch.width],
                   position_ids=batch.prefill_positions(), past_key_values=batch.cache, use_cache=True,
                   logits_to_keep=1).logits[:, -1]
    if copies > 1:
        batch.share(copies) if shared else batch.repeat(copies)
        logits = logits.repeat_interleave(copies, dim=0)
    for step in range(budget):
        tokens = choose(logits, params, generator)  # stays on the device: the next step's input
        chosen = tokens.cpu()  # the step's one wait for the device: the loop decides on the host
        for row, token, done in zip(batch.rows.tolist(), chosen.tolist(), batch.done.tolist()):
            if not done:
                out[row].append(token)
        batch.done |= torch.isin(chosen, eos)
        on_step()
        threads.rebalance()  # this job's share of the cores, if other jobs started or ended
        if step == budget - 1 or bool(batch.done.all()):
            break
        batch.filled += 1
        if shared:  # whole prompts leave the batch, once all their rows have finished
            live = ~batch.done.view(-1, copies).all(dim=1)
            if int((~live).sum()) >= COMPACT_SHARE * len(live):
                tokens = batch.keep_prompts(live, tokens)
            elif int(batch.done.sum()) >= UNSHARE_SHARE * len(batch.rows):
                batch.unshare()
                shared = False
        if not shared and int(batch.done.sum()) >= COMPACT_SHARE * len(batch.rows):
            tokens = batch.keep(~batch.done, tokens)
        mask = None if shared else batch.mask[:, : batch.filled]  # shared: the layers hold it
        logits = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=batch.positions[:, None],
                       past_key_values=batch.cache, use_cache=True).logits[:, -1]
        batch.positions += 1
    return out
