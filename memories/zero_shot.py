"""zero_shot: no learned memory.

On system tasks it changes nothing. On conversational tasks (LoCoMo) it keeps the original's meaning of
"zero-shot": a long-context baseline that puts the raw sessions injected so far (in online mode:
sessions 1..where of the question) into the prompt, one user message per session between the system
prompt and the question. Unlike the original, each session carries its date.
"""

from __future__ import annotations

import json
from pathlib import Path

from memories.config import yaml_defaults
from pytest_amb.interfaces import Augmentation, EpisodeInfo, Message, Outcome
from pytest_amb.memory import STATE_VERSION, Memory, Recall, UpdateReport, session_header


class ZeroShotMemory(Memory):
    name = "zero_shot"
    order = 1
    reports_every_change = True  # an update that reports no change changed nothing
    is_baseline = True  # learns nothing from episodes: the reference of transfer gains
    default_config = yaml_defaults("zero_shot")

    def __init__(self, deps):
        super().__init__(deps)
        self.sessions: list[str] = []  # rendered sessions, in injection order

    def augment(self, info: EpisodeInfo, messages: list[Message]) -> Augmentation:
        if not self.sessions:
            return super().augment(info, messages)
        clean = [dict(m) for m in messages]
        leading = 0
        while leading < len(clean) and clean[leading].get("role") == "system":
            leading += 1
        inserted = [{"role": "user", "content": text} for text in self.sessions]
        return Augmentation(messages=clean[:leading] + inserted + clean[leading:], block="\n\n".join(self.sessions))

    def retrieve(self, info: EpisodeInfo) -> Recall:
        """The sessions so far as one block (what a router merges when zero_shot is its child)."""
        return Recall("\n\n".join(self.sessions)) if self.sessions else Recall()

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        if outcome.kind != "session_injection":
            return UpdateReport(stored=False, reason="zero_shot learns nothing from episodes")
        lines = [session_header(info)] + [str(m.get("content") or "") for m in trajectory]
        self.sessions.append("\n".join(lines))
        return UpdateReport(stored=True, added=(info.sample_id,))

    def reset(self) -> None:
        self.sessions = []

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        state = {"version": STATE_VERSION, "memory": self.name, "sessions": self.sessions}
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")

    def load(self, path: Path) -> None:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        self.sessions = list(state["sessions"])
