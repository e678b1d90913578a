"""The generation-backend interface every sampling stage goes through.

Chat prompts in, ``n`` samples per prompt out. A chat whose last message has role "assistant"
is *continued* (the chat template's continue-final-message mode, no new turn): that is how
intervention-guided rollouts resume from prefix + intervention.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from int_exp.config import SamplingConfig

Chat = list[dict[str, str]]


@dataclass
class SamplingParams(SamplingConfig):
    """One generate call's sampling: the settings and ``n`` samples per prompt."""

    n: int = 1


class GenerationBackend(Protocol):
    def generate(self, chats: Sequence[Chat], params: SamplingParams, desc: str = "generate") -> list[list[str]]:
        """Return ``params.n`` completions (text only, no prompt) for each chat, in order; a chat
        whose prompt leaves no room in the context gets none (the stage skips and counts it)."""
        ...

    def close(self) -> None:
        """Free the engine (GPU memory, worker processes)."""
        ...


class SamplingBackend:
    """The front every backend shares: ``generate`` handles the empty cases (no chats, ``n < 1``:
    ``[[] for each chat]``, no work) and leaves the rest to the backend's ``sample``."""

    def generate(
        self, chats: Sequence[Chat], params: SamplingParams, desc: str = "generate", *, first_index: int = 0
    ) -> list[list[str]]:
        chats = list(chats)
        if params.n < 1 or not chats:
            return [[] for _ in chats]
        return self.sample(chats, params, desc, first_index)

    def sample(self, chats: list[Chat], params: SamplingParams, desc: str, first_index: int) -> list[list[str]]:
        raise NotImplementedError


def continues_final_message(chat: Chat) -> bool:
    """True when the chat ends with a partial assistant message to be continued."""
    return bool(chat) and chat[-1]["role"] == "assistant"


def derive_seed(seed: int, *keys: int) -> int:
    """A well-mixed 31-bit seed for sub-stream ``keys`` of ``seed`` (a batch, a prompt index).

    Deriving one seed per prompt (vLLM, servers) keeps two copies of the same prompt from
    drawing identical samples, and keeps a prompt's samples independent of how the prompts
    are batched or sharded.
    """
    text = ":".join(str(int(k)) for k in (seed, *keys))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") % (2**31 - 1)
