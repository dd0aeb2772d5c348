"""The data objects and protocols shared by the harness, the task families and the memory mechanisms.

Task families and memory mechanisms implement these; the harness (``pytest_amb``) drives
them without knowing which task or memory it holds. Field names follow the AgentRL / AgentBench wire
format (messages, tools, status, finish, reward, metric) so the same objects can travel over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

Message = dict[str, Any]  # an OpenAI chat message


@dataclass(frozen=True)
class EpisodeInfo:
    """What a memory may know about a sample before the agent acts."""

    task: str  # task instance name, e.g. "<family>-dev"
    sample_id: str  # stable within the task, e.g. "qa-17" or "session-3"
    query: str  # the clean retrieval query (the question, without any injected memory)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvReply:
    """The environment's answer to one assistant message."""

    messages: list[Message]
    finish: bool
    reward: float = 0.0
    status: str = "running"  # AgentRL SampleStatus values: running, completed, task limit reached, ...
    metrics: dict[str, Any] = field(default_factory=dict)
    explanation: str = ""  # short human-readable verdict, shown when the sample fails


class TaskEpisode(Protocol):
    info: EpisodeInfo
    messages: list[Message]  # clean initial messages (system + first user)
    tools: list[dict]
    max_rounds: int

    def step(self, assistant_message: Message) -> EnvReply: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SessionInfo:
    """A dated block of conversation that is injected into memory before its questions are asked."""

    session_id: int
    date_time: str
    qa_ids: tuple[str, ...]  # askable after this session, in file order


@dataclass(frozen=True)
class TaskIndex:
    """What a plan needs to know about a task instance: stable sample ids and, for
    conversational tasks, the sessions in order."""

    name: str  # e.g. "<family>-dev", or "<family>/<sample file>" for one bundled conversation
    family: str  # the task family's registered name
    sample_ids: tuple[str, ...]
    sessions: tuple[SessionInfo, ...] = ()

    @property
    def conversational(self) -> bool:
        return bool(self.sessions)


class Task(Protocol):
    index: TaskIndex
    backend: str  # provenance of the environment, e.g. "in-process"

    def open(self, sample_id: str) -> TaskEpisode: ...

    def session_info(self, session_id: int) -> EpisodeInfo: ...

    def sample_info(self, sample_id: str) -> EpisodeInfo:
        """Optional: the episode's info without opening it (no environment started), so the harness can prepare a
        memory's work for a coming step (``Memory.texts_ahead``). A task without it is simply not prepared for."""

    def session_messages(self, session_id: int) -> list[Message]: ...

    def oracle_replies(self, sample_id: str) -> list[Message]:
        """The sample's gold solution as the assistant turns an agent would send (for --amb-model=oracle)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """The normalised result of a sample as memories see it. ``success`` is decided once, by the task."""

    success: bool
    reward: float
    status: str
    kind: str = "episode"  # "episode" or "session_injection"


@dataclass(frozen=True)
class RetrievedItem:
    id: str
    text: str
    score: float


@dataclass(frozen=True)
class Augmentation:
    """The result of ``Memory.augment``: the messages to send and what was injected."""

    messages: list[Message]
    block: str = ""
    retrieved: tuple[RetrievedItem, ...] = ()


class EnvironmentUnavailable(RuntimeError):
    """A task's environment cannot run on this machine (e.g. no container engine). Its steps are skipped,
    with this message, and the rest of the run goes on."""


class JudgeError(RuntimeError):
    """The judge gave no usable verdict (an infrastructure problem, not a wrong answer)."""


class Judge(Protocol):
    def __call__(self, question: str, gold: str, predicted: str) -> JudgeVerdict: ...


@dataclass(frozen=True)
class JudgeVerdict:
    score: float  # 1.0 correct, 0.0 wrong
    label: str
    rationale: str
