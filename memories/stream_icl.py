"""stream_icl: Self-StreamICL as AgentMemoryBench adapts it (spec amb_memories §2).

Stores successful episodes as ``Question: ... / <trajectory>`` shots keyed by the question, and
injected conversation sessions as dated chunks of ``session_window`` turns keyed by their own text (the
original keyed a whole session by its first utterance, which made sessions nearly unretrievable).
Retrieval embeds the episode's query and injects the top-k shots (k = 4, the paper's setting) into the
first user message, most similar first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from memories.config import yaml_defaults
from memories.index import VectorIndex
from pytest_amb.interfaces import EpisodeInfo, Message, Outcome, RetrievedItem
from pytest_amb.memory import STATE_VERSION, Memory, Recall, UpdateReport, session_header

PROMPT_TEMPLATE = "Here are some examples of the task you have completed:"
TRUNCATE = 500  # characters of tool output and reasoning kept in a shot, as in the original


@dataclass(frozen=True)
class Shot:
    id: int
    key: str
    value: str
    source: str  # "<task>/<sample_id>" it came from


def format_experience(question: str, trajectory: list[Message]) -> str:
    """The original's ``_format_experience``: the question, then one line per message after the first
    user message; system messages dropped, tool calls rendered as ``name(args)``."""
    lines = [f"Question: {question}"]
    seen_first_user = False
    for message in trajectory:
        role = message.get("role")
        content = str(message.get("content") or "")
        if role == "system":
            continue
        if role == "user" and not seen_first_user:
            seen_first_user = True
            continue
        if role == "assistant":
            calls = " ".join(
                f"{c.get('function', {}).get('name')}({c.get('function', {}).get('arguments', '')})"
                for c in message.get("tool_calls") or []
            )
            lines.append("Assistant: " + " ".join(part for part in (content, calls) if part))
        elif role == "tool":
            lines.append("Tool: " + content[:TRUNCATE] + ("..." if len(content) > TRUNCATE else ""))
        elif role == "user":
            lines.append("User: " + content)
    if len(lines) == 1:
        lines.append("Completed successfully.")
    return "\n".join(lines)


class StreamICLMemory(Memory):
    name = "stream_icl"
    order = 2
    reports_every_change = True  # an update that reports no change changed nothing
    default_config = yaml_defaults("stream_icl")
    needs_embedder = True

    def __init__(self, deps):
        super().__init__(deps)
        self.top_k = int(self.config["top_k"])
        self.session_window = int(self.config["session_window"])
        self.embedder = deps.embedder
        self.shots: dict[int, Shot] = {}
        self.index = VectorIndex(self.embedder.dim)

    def retrieve(self, info: EpisodeInfo) -> Recall:
        if not self.shots or not info.query:
            return Recall()
        hits = self.index.search(self.embedder.encode([info.query])[0], self.top_k)
        retrieved = tuple(RetrievedItem(str(i), self.shots[i].value, round(score, 6)) for i, score in hits)
        return Recall(PROMPT_TEMPLATE + "\n\n" + "\n\n".join(item.text for item in retrieved), retrieved)

    def texts_ahead(self, info: EpisodeInfo, session: list[Message] | None = None) -> list[str]:
        if session is not None:
            return self._chunks(info, session) if self.policy.include_session_injection else []
        return [info.query] if info.query else []

    def _chunks(self, info: EpisodeInfo, session: list[Message]) -> list[str]:
        """A session as dated chunks of ``session_window`` turns, each stored and keyed by its own text."""
        header = session_header(info)
        turns = [str(m.get("content") or "") for m in session]
        return ["\n".join([header, *turns[i : i + self.session_window]]) for i in range(0, len(turns), self.session_window)]

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        source = f"{info.task}/{info.sample_id}"
        if outcome.kind == "session_injection":
            pairs = [(chunk, chunk) for chunk in self._chunks(info, trajectory)]
        else:
            if not info.query:
                return UpdateReport(stored=False, reason="episode has no query to key it by")
            pairs = [(info.query, format_experience(info.query, trajectory))]
        if not pairs:
            return UpdateReport(stored=False, reason="nothing to store")
        first = max(self.shots, default=-1) + 1
        ids = list(range(first, first + len(pairs)))
        self.index.add(ids, self.embedder.encode([key for key, _ in pairs]))
        for shot_id, (key, value) in zip(ids, pairs):
            self.shots[shot_id] = Shot(shot_id, key, value, source)
        return UpdateReport(stored=True, added=tuple(str(i) for i in ids))

    def reset(self) -> None:
        self.shots = {}
        self.index.clear()

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        ids = sorted(self.shots)
        state = {
            "version": STATE_VERSION,
            "memory": self.name,
            "embedder": self.embedder.name,
            "shots": [asdict(self.shots[i]) for i in ids],
        }
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")
        np.save(path / "vectors.npy", self.index.vectors(ids))

    def load(self, path: Path) -> None:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if state.get("embedder") != self.embedder.name:
            raise ValueError(
                f"{path}: saved with embedder '{state.get('embedder')}', cannot load with '{self.embedder.name}'"
            )
        self.reset()
        shots = [Shot(**s) for s in state["shots"]]
        if shots:
            self.index.add([s.id for s in shots], np.load(path / "vectors.npy"))
        self.shots = {s.id: s for s in shots}
