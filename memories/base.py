"""The one memory interface, the one write policy, and the one way memory enters a prompt.

The runner hands a memory the *clean* initial messages and the *clean* trajectory (without anything
the memory injected), so no mechanism ever parses its own injection back out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pytest_amb.interfaces import Augmentation, EpisodeInfo, Message, Outcome

MEMORY_SEPARATOR = "--- Original Question Below ---"  # the original's separator for front injection
PLACEMENTS = ("front", "tail")
STATE_VERSION = 1


@dataclass(frozen=True)
class WritePolicy:
    """Which outcomes a memory stores, the same for every mechanism.

    An episode is stored when it succeeded (the task's verdict, e.g. reward == 1 or the judge said
    CORRECT), unless ``success_only`` is off. Session injections are stored unless
    ``include_session_injection`` is off. (The original mixed "completed" and "reward > 0" per
    mechanism; see docs/deviations.md.)
    """

    success_only: bool = True
    include_session_injection: bool = True

    def admits(self, outcome: Outcome) -> bool:
        if outcome.kind == "session_injection":
            return self.include_session_injection
        return outcome.success or not self.success_only


@dataclass(frozen=True)
class UpdateReport:
    stored: bool
    added: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict:
        return {"stored": self.stored, "added": list(self.added), "reason": self.reason}


@dataclass(frozen=True)
class MemoryDeps:
    """What the harness injects: memories never build their own embedder or LLM client."""

    embedder: Any = None
    llm: Any = None
    policy: WritePolicy = field(default_factory=WritePolicy)
    placement: str = "front"


def inject(messages: list[Message], block: str, placement: str) -> list[Message]:
    """A new message list with ``block`` written into the first user message (the original's
    ``enhance_messages_with_memory``): in front, followed by the separator, or at the tail."""
    if placement not in PLACEMENTS:
        raise ValueError(f"memory placement '{placement}' is not one of {PLACEMENTS}")
    result = [dict(m) for m in messages]
    for message in result:
        if message.get("role") == "user":
            question = str(message.get("content") or "")
            if placement == "front":
                message["content"] = f"{block}\n\n{MEMORY_SEPARATOR}\n\n{question}"
            else:
                message["content"] = f"{question}\n\n{block}"
            return result
    raise ValueError("cannot inject memory: the messages have no user message")


def session_header(info: EpisodeInfo) -> str:
    """The dated heading of an injected conversation session (the original dropped the date)."""
    date_time = info.meta.get("date_time")
    session_id = info.meta.get("session_id")
    return f"[Session {session_id} — {date_time}]" if date_time else f"[Session {session_id}]"


class Memory(ABC):
    name: ClassVar[str]
    needs_embedder: ClassVar[bool] = False

    def __init__(self, deps: MemoryDeps):
        self.deps = deps

    def augment(self, info: EpisodeInfo, messages: list[Message]) -> Augmentation:
        """The messages to send for this episode, with whatever the memory recalls."""
        return Augmentation(messages=[dict(m) for m in messages])

    def update(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        if not self.deps.policy.admits(outcome):
            return UpdateReport(stored=False, reason="not admitted by the write policy (unsuccessful episode)")
        return self.write(info, trajectory, outcome)

    @abstractmethod
    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        """Store what the mechanism keeps of an admitted outcome."""

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the complete state (records and index) under the folder ``path``."""

    @abstractmethod
    def load(self, path: Path) -> None: ...
