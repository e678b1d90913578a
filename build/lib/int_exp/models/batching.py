"""The one batch planner: group sequences of similar length so little compute goes to padding.

Generation (:mod:`int_exp.backends.hf`), scoring (SFT data diagnostics) and training (the sandbox
model) all batch token sequences; :func:`length_batches` is how, for each of them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def length_batches(lengths: Sequence[int], max_rows: int, *, max_padded_tokens: int | None = None,
                   longest_first: bool = False, rng: random.Random | None = None,
                   pool_batches: int = 16) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches of at most ``max_rows`` rows.

    Without ``rng``: sorted by length (shortest first, or ``longest_first``), ties in input order,
    and a batch also closes before its padded size (rows x longest) would pass
    ``max_padded_tokens``. With ``rng`` (an epoch of training): shuffled, sorted by length within
    pools of ``pool_batches`` batches, and the batches shuffled (little padding, random order).

    >>> length_batches([5, 1, 3, 2], 2)
    [[1, 3], [2, 0]]
    >>> length_batches([5, 1, 3, 2], 4, max_padded_tokens=6)
    [[1, 3], [2], [0]]
    """
    if rng is not None:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        pool = max_rows * pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
            batches += [chunk[j : j + max_rows] for j in range(0, len(chunk), max_rows)]
        rng.shuffle(batches)
        return batches
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=longest_first)
    batches, batch, longest = [], [], 0
    for i in order:
        grown = max(longest, lengths[i])
        full = len(batch) >= max_rows or (max_padded_tokens is not None and grown * (len(batch) + 1) > max_padded_tokens)
        if batch and full:
            batches.append(batch)
            batch, grown = [], lengths[i]
        batch.append(i)
        longest = grown
    if batch:
        batches.append(batch)
    return batches
