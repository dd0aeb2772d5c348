"""A complete user-written memory mechanism: the worked example of docs/memories.md.

``recent`` keeps the last ``keep`` successful episodes (question and final assistant turns) and shows
them, newest last, to the next episode. No embedder, no LLM. It is registered by an entry point:

    [project.entry-points."pytest_amb.memories"]
    recent = "recent_memory:RecentMemory"

and then ``pytest --amb-memory=recent`` runs it; ``--amb-memory-config`` can set ``recent: {keep: 5}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from pytest_amb.interfaces import EpisodeInfo, Message, Outcome, RetrievedItem
from pytest_amb.memory import STATE_VERSION, Memory, Recall, UpdateReport


class RecentMemory(Memory):
    name = "recent"
    default_config: ClassVar[dict] = {
        "keep": 3,
        "placement": "front",
        "success_only": True,
        "include_session_injection": False,
    }

    def __init__(self, deps):
        super().__init__(deps)  # merges default_config with the user's overrides into self.config
        self.episodes: list[dict] = []

    def retrieve(self, info: EpisodeInfo) -> Recall:
        if not self.episodes:
            return Recall()
        items = tuple(
            RetrievedItem(e["source"], f"Question: {e['question']}\n{e['answer']}", 1.0) for e in self.episodes
        )
        return Recall("Recently solved:\n\n" + "\n\n".join(item.text for item in items), items)

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        answer = "\n".join(
            f"Assistant: {m.get('content') or ''} "
            + " ".join(f"{c['function']['name']}({c['function']['arguments']})" for c in m.get("tool_calls") or [])
            for m in trajectory
            if m.get("role") == "assistant"
        )
        self.episodes.append({"source": f"{info.task}/{info.sample_id}", "question": info.query, "answer": answer})
        self.episodes = self.episodes[-int(self.config["keep"]) :]
        return UpdateReport(stored=True, added=(info.sample_id,))

    def reset(self) -> None:
        self.episodes = []

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        state = {"version": STATE_VERSION, "memory": self.name, "episodes": self.episodes}
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")

    def load(self, path: Path) -> None:
        self.episodes = json.loads((path / "state.json").read_text(encoding="utf-8"))["episodes"]
