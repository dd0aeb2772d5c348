"""mem0, native: a local implementation of Mem0's algorithms (spec amb_memories §4, §7), no hosted service.

``algorithm: v1`` extracts facts and merges them with ADD / UPDATE / DELETE / NONE (what the benchmark ran
on the Mem0 Platform); ``algorithm: v3`` adds memories only and retrieves by semantic + BM25 + entity
scores. Every record carries its scope (``user_id`` = the stream, ``agent_id``, ``run_id``), so separate
streams never see each other's memories; writes are synchronous (no sleep, no race).
``backend: mem0ai`` drives the ``mem0ai`` package instead, when it is installed (see ``mem0ai_backend.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

from memories.config import yaml_defaults
from memories.mem0 import algorithms, reference
from memories.mem0.store import Mem0Store
from pytest_amb.interfaces import EpisodeInfo, Message, Outcome, RetrievedItem
from pytest_amb.memory import STATE_VERSION, Memory, Recall, UpdateReport

PROMPT_TEMPLATE = "Based on your previous interactions, here are relevant memories:"
TOOL_OUTPUT_CHARS = 500
ALGORITHMS = ("v1", "v3")


def prepare_messages(trajectory: list[Message], kind: str) -> list[dict]:
    """Roles kept (the original turned system and tool messages into user facts): system prompts are
    dropped, tool calls are written out, tool results are labelled and cut. In a conversation session
    every turn is a named speaker's message and counts as the user's (v1 extracts from user messages)."""
    out = []
    for message in trajectory:
        role, content = message.get("role"), str(message.get("content") or "")
        if role == "system":
            continue
        if role == "assistant":
            calls = [f"Tool call: {c.get('function', {}).get('name')}({c.get('function', {}).get('arguments', '')})"
                     for c in message.get("tool_calls") or []]  # fmt: skip
            content = " ".join(part for part in (content, *calls) if part)
        elif role == "tool":
            content = "Tool result: " + content[:TOOL_OUTPUT_CHARS]
        else:
            role = "user"
        if kind == "session_injection":
            role = "user"
        if content.strip():
            out.append({"role": role, "content": content})
    return out


class Mem0Memory(Memory):
    name = "mem0"
    order = 4
    default_config = yaml_defaults("mem0")
    needs_embedder = True
    needs_llm = True
    reference_operations = reference.OPERATIONS  # the reference model's answers to its own calls

    def __init__(self, deps):
        super().__init__(deps)
        self.algorithm = str(self.config["algorithm"])
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"mem0.algorithm: '{self.algorithm}' is not one of {', '.join(ALGORITHMS)}")
        self.scope = deps.scope
        self.store = Mem0Store(deps.embedder)
        self.library = None
        if self.config["backend"] == "mem0ai":
            from memories.mem0.mem0ai_backend import Mem0aiBackend

            self.library = Mem0aiBackend(llm=deps.llm, embedder=deps.embedder, algorithm_top_k=int(self.config["top_k"]),
                                         threshold=float(self.config["threshold"]))  # fmt: skip
        elif self.config["backend"] != "native":
            raise ValueError(f"mem0.backend: '{self.config['backend']}' is not one of native, mem0ai")
        self.reports_every_change = self.library is None  # mem0ai's updates and deletes are not all reported

    def texts_ahead(self, info: EpisodeInfo, session: list[Message] | None = None) -> list[str]:
        # a session's facts come from the extraction call; a sample's query is what search embeds first
        return [info.query] if session is None and info.query and self.library is None else []

    def retrieve(self, info: EpisodeInfo) -> Recall:
        if not info.query or not self.store.records:
            return Recall()
        search = algorithms.search_v3 if self.algorithm == "v3" else algorithms.search_v1
        hits = search(
            self.store,
            info.query,
            self.scope,
            top_k=int(self.config["top_k"]),
            threshold=float(self.config["threshold"]),
        )
        if not hits:
            return Recall()
        retrieved = tuple(RetrievedItem(record.id, record.text, round(score, 6)) for record, score in hits)
        return Recall(PROMPT_TEMPLATE + "\n" + "\n".join(f"- {item.text}" for item in retrieved), retrieved)

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        messages = prepare_messages(trajectory, outcome.kind)
        if not messages:
            return UpdateReport(stored=False, reason="nothing to extract from")
        metadata = {"task": info.task, "sample": info.sample_id, "success": outcome.success}
        date = str(info.meta.get("date_time") or "")
        if self.library is not None:
            added = tuple(self.library.add(messages, self.scope, metadata))
            return UpdateReport(stored=bool(added), added=added, reason="" if added else "mem0ai added nothing")
        if self.algorithm == "v3":
            report = algorithms.add_v3(self.store, self.deps.llm, messages, self.scope, date=date,
                                       existing_k=int(self.config["v3_existing"]), metadata=metadata)  # fmt: skip
        else:
            report = algorithms.add_v1(self.store, self.deps.llm, messages, self.scope, date=date,
                                       candidates=int(self.config["update_candidates"]), metadata=metadata)  # fmt: skip
        changed = report.added + report.updated + report.deleted
        reason = "" if changed else "the extraction found nothing new"
        return UpdateReport(stored=bool(changed), added=tuple(report.added), reason=reason,
                            updated=tuple(report.updated), deleted=tuple(report.deleted))  # fmt: skip

    def reset(self) -> None:
        self.store = Mem0Store(self.deps.embedder)

    def save(self, path: Path) -> None:
        self.store.save(path)
        if self.library is not None:
            self.library.save(path)
        meta = {"version": STATE_VERSION, "memory": self.name, "algorithm": self.algorithm,
                "embedder": self.store.embedder.name, "scope": self.scope.to_json()}  # fmt: skip
        (path / "state.json").write_text(json.dumps(meta), encoding="utf-8")

    def load(self, path: Path) -> None:
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
        for key, ours in (("memory", self.name), ("algorithm", self.algorithm), ("embedder", self.store.embedder.name)):
            if meta.get(key) != ours:
                raise ValueError(f"{path}: saved with {key} '{meta.get(key)}', cannot load into {key} '{ours}'")
        self.store.load(path)
        if self.library is not None:
            self.library.load(path)
