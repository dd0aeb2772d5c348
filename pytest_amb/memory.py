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
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.stored or bool(self.added or self.updated or self.deleted)

    def to_json(self) -> dict:
        return {"stored": self.stored, "added": list(self.added), "updated": list(self.updated),
                "deleted": list(self.deleted), "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Whose memories these are (scoping ids: user, agent, run): a store shared by several streams or children
    only ever returns records of the same scope."""

    user_id: str = "default"
    agent_id: str = ""
    run_id: str = ""

    def to_json(self) -> dict:
        return {"user_id": self.user_id, "agent_id": self.agent_id, "run_id": self.run_id}


@dataclass(frozen=True)
class MemoryDeps:
    """What the harness injects: memories never build their own embedder or LLM client. ``config``
    overrides the mechanism's defaults (``memories/configs/<name>.yaml``)."""

    embedder: Any = None
    llm: Any = None  # an LLMClient for the mechanism's own calls (purpose "memory")
    config: dict = field(default_factory=dict)
    scope: Scope = field(default_factory=Scope)
    child_configs: dict = field(default_factory=dict)  # every mechanism's overrides (a router builds children)


@dataclass(frozen=True)
class Recall:
    """What a memory retrieves for an episode: the rendered block and the items in it."""

    block: str = ""
    retrieved: tuple = ()


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
    needs_llm: ClassVar[bool] = False
    default_config: ClassVar[dict] = {}  # every parameter, with its documented default
    order: ClassVar[int] = 0  # place in listings (the built-ins use 1, 2, 3, ...)
    is_baseline: ClassVar[bool] = False  # learns nothing from episodes: transfer gains are measured against it
    # True: an update that reports no change (``UpdateReport.changed`` False) left the memory exactly as it was, so
    # the harness links the previous checkpoint instead of saving the memory again
    reports_every_change: ClassVar[bool] = False
    # the reference model's answers to this mechanism's own LLM calls: X-AMB-Operation -> fn(messages) -> content
    reference_operations: ClassVar[dict] = {}

    def __init__(self, deps: MemoryDeps):
        from pytest_amb import memory_config

        self.deps = deps
        self.config = memory_config.resolve(self.name, dict(self.default_config), deps.config, "memory config")
        self.policy = WritePolicy(
            success_only=bool(self.config.get("success_only", True)),
            include_session_injection=bool(self.config.get("include_session_injection", True)),
        )
        self.placement = str(self.config.get("placement", "front"))
        if self.placement not in PLACEMENTS:
            raise ValueError(f"{self.name}.placement: '{self.placement}' is not one of {', '.join(PLACEMENTS)}")

    def retrieve(self, info: EpisodeInfo) -> Recall:
        """What the memory recalls for this episode (read-only)."""
        return Recall()

    def augment(self, info: EpisodeInfo, messages: list[Message]) -> Augmentation:
        """The messages to send for this episode, with the recalled block injected."""
        recall = self.retrieve(info)
        if not recall.block:
            return Augmentation(messages=[dict(m) for m in messages])
        return Augmentation(inject(messages, recall.block, self.placement), recall.block, tuple(recall.retrieved))

    def texts_ahead(self, info: EpisodeInfo, session: list[Message] | None = None) -> list[str]:
        """The texts this memory will embed for a coming step: for a sample (``session`` None) its retrieval query,
        for an injected ``session`` what it keeps of it. The harness embeds them while the process waits on the
        model; a guess that turns out wrong costs time, never a result (vectors are a pure function of the text)."""
        return []

    def update(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        if not self.policy.admits(outcome):
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
