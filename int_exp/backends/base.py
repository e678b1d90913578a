"""The generation-backend interface every sampling stage goes through.

Chat prompts in, ``n`` samples per prompt out. A chat whose last message has role "assistant"
is *continued* (the chat template's continue-final-message mode, no new turn): that is how
intervention-guided rollouts resume from prefix + intervention.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Chat = list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    max_tokens: int = 1024
    seed: int = 0


class GenerationBackend(Protocol):
    def generate(self, chats: Sequence[Chat], params: SamplingParams, desc: str = "generate") -> list[list[str]]:
        """Return ``params.n`` completions (text only, no prompt) for each chat, in order."""
        ...

    def close(self) -> None:
        """Free the engine (GPU memory, worker processes)."""
        ...


def continues_final_message(chat: Chat) -> bool:
    """True when the chat ends with a partial assistant message to be continued."""
    return bool(chat) and chat[-1]["role"] == "assistant"
