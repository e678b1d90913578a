"""Decoding attention that reads each prompt's keys and values once for all its samples.

With ``n`` samples per prompt the decoding batch holds ``n`` copies of every prompt, and each
step attends over each copy's prompt again. On a CPU that read is the step's cost: sampling the
sandbox's eval (1,024 rows, ~110 prompt + up to 256 new tokens), attention was 63% of decoding,
memory-bound (33 ms per layer and step at 300 positions, whatever the kernel: SDPA with or
without a mask, or matmul + softmax). Here the prompt part of the cache is kept once per prompt
and attended by all its copies in one matrix product (the copies become the query length), the
generated part per row, and one softmax runs over both, so the prompt is read once per ``n``
rows. Grouped-query models work the same way (a KV head's query heads join the copies).

Used by :func:`int_exp.backends.decoding.decode` when ``copies > 1`` and the model attends with
``sdpa`` (or int_exp's CPU GQA variant); prefill keeps that implementation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer

NAME = "int_exp_shared_prefix"
BASE = "_int_exp_base_attention"  # the config attribute naming the implementation prefill uses
BASES = ("sdpa", "int_exp_cpu_gqa")


class SharedPrefixLayer(DynamicLayer):
    """One layer's cache after the prefill: the prompts' keys and values ``(prompts, kv_heads,
    width, dim)`` once, and a buffer for each row's generated positions; rows are ``copies``
    consecutive per prompt."""

    def __init__(self, keys: Any, values: Any, prompt_mask: Any, copies: int, capacity: int) -> None:
        super().__init__()
        self.prefix_keys, self.prefix_values = keys, values
        self.prefix_bias = torch.zeros(prompt_mask.shape, dtype=keys.dtype, device=keys.device)
        self.prefix_bias.masked_fill_(prompt_mask.to(keys.device) == 0, float("-inf"))
        self.prefix_bias = self.prefix_bias[:, None, None, :]  # (prompts, 1, 1, width)
        self.copies, self.generated = copies, 0
        rows, heads, _, dim = keys.shape[0] * copies, keys.shape[1], keys.shape[2], keys.shape[3]
        self.key_buffer = keys.new_empty((rows, heads, capacity, dim))
        self.value_buffer = values.new_empty((rows, heads, capacity, dim))
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True

    def update(self, key_states, value_states, *args, **kwargs):
        end = self.generated + key_states.shape[-2]
        self.key_buffer[:, :, self.generated : end] = key_states
        self.value_buffer[:, :, self.generated : end] = value_states
        self.generated = end
        return self, self  # the attention function below reads both parts from the layer

    def get_seq_length(self) -> int:
        return self.prefix_keys.shape[2] + self.generated

    def select_prompts(self, prompts: Any, rows: Any) -> None:
        """Keep only ``prompts`` (indices) and their ``rows`` (indices, all of each prompt's)."""
        prompts, rows = prompts.to(self.device), rows.to(self.device)
        self.prefix_keys, self.prefix_values = self.prefix_keys[prompts], self.prefix_values[prompts]
        self.prefix_bias = self.prefix_bias[prompts]
        self.key_buffer, self.value_buffer = self.key_buffer[rows], self.value_buffer[rows]

    def attend(self, query: Any, scaling: float) -> Any:
        """Attention output ``(rows, 1, heads, dim)`` for one new token per row."""
        prompts, kv_heads, width, dim = self.prefix_keys.shape
        rows, heads, copies, group, g = query.shape[0], query.shape[1], self.copies, query.shape[1] // kv_heads, self.generated
        # (rows, heads, 1, dim) -> (prompts, kv_heads, copies * group, dim): a prompt's copies and
        # a KV head's query heads are one block of queries against the prompt's keys.
        q = query.view(prompts, copies, kv_heads, group, dim).permute(0, 2, 1, 3, 4).reshape(prompts, kv_heads, -1, dim)
        prefix_scores = torch.matmul(q, self.prefix_keys.transpose(-1, -2)) * scaling + self.prefix_bias
        own = query.view(rows, kv_heads, group, dim)
        gen_keys, gen_values = self.key_buffer[:, :, :g], self.value_buffer[:, :, :g]
        gen_scores = torch.matmul(own, gen_keys.transpose(-1, -2)) * scaling  # (rows, kv_heads, group, g)
        gen_scores = gen_scores.view(prompts, copies, kv_heads, group, g).permute(0, 2, 1, 3, 4)
        probs = torch.softmax(torch.cat([prefix_scores, gen_scores.reshape(prompts, kv_heads, -1, g)], -1), -1)
        out = torch.matmul(probs[..., :width], self.prefix_values)  # (prompts, kv_heads, copies * group, dim)
        out = out.view(prompts, kv_heads, copies, group, dim).permute(0, 2, 1, 3, 4).reshape(rows, kv_heads, group, dim)
        gen_probs = probs[..., width:].view(prompts, kv_heads, copies, group, g).permute(0, 2, 1, 3, 4)
        out = out + torch.matmul(gen_probs.reshape(rows, kv_heads, group, g), gen_values)
        return out.reshape(rows, 1, heads, dim)


def shared_prefix_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any):
    """Decoding steps read the :class:`SharedPrefixLayer`; prefill goes to the model's own
    implementation (named in its config's ``_int_exp_base_attention``)."""
    if isinstance(key, SharedPrefixLayer):
        return key.attend(query, kwargs.get("scaling") or module.scaling), None
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    base = ALL_ATTENTION_FUNCTIONS[getattr(module.config, BASE, "sdpa")]
    return base(module, query, key, value, attention_mask, **kwargs)


def can_share(model: Any) -> bool:
    """Whether decoding can switch ``model`` to :data:`NAME` (its attention is sdpa-based)."""
    return getattr(model.config, "_attn_implementation", None) in BASES + (NAME,)


@contextlib.contextmanager
def attending(model: Any) -> Iterator[None]:
    """``model`` attends with :func:`shared_prefix_attention` while the block runs (its own
    implementation serves the prefill), then gets its own back."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(NAME, shared_prefix_attention)  # a dict entry: registering again is harmless
    AttentionMaskInterface.register(NAME, sdpa_mask)
    base = model.config._attn_implementation
    setattr(model.config, BASE, base)
    model.set_attn_implementation(NAME)
    try:
        yield
    finally:
        model.set_attn_implementation(base)
