"""mems: a router over named child memories (spec amb_memories §5, §8.2).

Children come from the configuration (default: ``system_memory`` = awm_pro, ``personal_memory`` = mem0),
each with its own parameters and its own scope (``agent_id`` = the child's role). Per episode an LLM
trigger answers JSON ``{"sources": [...], "reasoning": ...}`` naming the children to read; per update,
given a compact summary of the trajectory (not the whole JSON dump), the children to update. An
unusable answer falls back to every child (configurable); the original skipped the update instead.
The chosen children's recalls are merged into one block with a heading per child, injected once (the
original chained two injections, which also contaminated what the children stored).
"""

from __future__ import annotations

import json
from pathlib import Path

from memories import mems_reference
from memories.config import yaml_defaults
from memories.llm_json import parse_json_object
from pytest_amb import registry
from pytest_amb.interfaces import EpisodeInfo, Message, Outcome, RetrievedItem
from pytest_amb.memory import STATE_VERSION, Memory, MemoryDeps, Recall, Scope, UpdateReport

DESCRIPTIONS = {
    "system_memory": "task workflows, tool-use patterns and procedures learned from past tasks",
    "personal_memory": "facts about people, their preferences, and the context of past conversations",
}
RETRIEVAL_PROMPT = """You are a memory source selector. Choose which memory sources can help with the query.
Sources:
{sources}
Answer with JSON only: {{"sources": ["..."], "reasoning": "..."}}"""
UPDATE_PROMPT = """You are a memory source selector. Choose which memory sources should learn from this finished \
episode.
Sources:
{sources}
Answer with JSON only: {{"sources": ["..."], "reasoning": "..."}}"""
FALLBACKS = ("all", "none")


def summary(info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> str:
    """What the update trigger sees: kind, task, the query, the last assistant turn and the outcome."""
    last = next((m for m in reversed(trajectory) if m.get("role") == "assistant"), {})
    calls = [c.get("function", {}).get("name", "") for m in trajectory for c in m.get("tool_calls") or []]
    kind = "conversation session" if outcome.kind == "session_injection" else "task episode"
    first = next((str(m.get("content") or "") for m in trajectory if m.get("role") == "user"), "")
    lines = [
        f"Kind: {kind}",
        f"Task: {info.task}",
        f"Query: {info.query or first[:500]}",
        f"Tools used: {', '.join(sorted(set(calls))) or 'none'}",
        f"Final assistant turn: {str(last.get('content') or '')[:300]}",
        f"Outcome: {'success' if outcome.success else 'failure'} (reward {outcome.reward})",
    ]
    return "\n".join(lines)


class MemsMemory(Memory):
    name = "mems"
    order = 5
    default_config = yaml_defaults("mems")
    needs_embedder = True
    needs_llm = True
    reference_operations = mems_reference.OPERATIONS  # the reference model's answers to its own calls

    def __init__(self, deps):
        super().__init__(deps)
        for key in ("retrieval_fallback", "update_fallback"):
            if self.config[key] not in FALLBACKS:
                raise ValueError(f"mems.{key}: '{self.config[key]}' is not one of {', '.join(FALLBACKS)}")
        self.children: dict[str, Memory] = {}
        for role, mechanism in self.config["children"].items():
            if mechanism == self.name or mechanism not in registry.memory_names():
                raise ValueError(f"mems.children.{role}: '{mechanism}' is not a memory this run can build")
            scope = Scope(user_id=deps.scope.user_id, agent_id=role, run_id=deps.scope.run_id)
            child_deps = MemoryDeps(embedder=deps.embedder, llm=deps.llm, config=deps.child_configs.get(mechanism, {}),
                                    scope=scope, child_configs=deps.child_configs)  # fmt: skip
            self.children[role] = registry.memory_class(mechanism)(child_deps)
        self.reports_every_change = all(child.reports_every_change for child in self.children.values())

    def _sources(self) -> str:
        return "\n".join(
            f"- {role}: {DESCRIPTIONS.get(role, f'a {child.name} memory')}" for role, child in self.children.items()
        )

    def _route(self, operation: str, prompt: str, content: str, fallback: str) -> tuple[list[str], str]:
        reply = self.deps.llm.chat(
            [{"role": "system", "content": prompt.format(sources=self._sources())}, {"role": "user", "content": content}],
            purpose="memory", operation=operation,
        )  # fmt: skip
        parsed = parse_json_object(reply.get("content") or "") or {}
        chosen = (
            [s for s in parsed.get("sources") or [] if s in self.children]
            if isinstance(parsed.get("sources"), list)
            else None
        )
        if chosen is None:
            return (list(self.children) if fallback == "all" else []), "fallback: the router's answer named no sources"
        return chosen, str(parsed.get("reasoning") or "")

    def texts_ahead(self, info: EpisodeInfo, session: list[Message] | None = None) -> list[str]:
        texts = [text for child in self.children.values() for text in child.texts_ahead(info, session)]
        return list(dict.fromkeys(texts))

    def retrieve(self, info: EpisodeInfo) -> Recall:
        chosen, _ = self._route("mems.route_retrieval", RETRIEVAL_PROMPT, f"Query:\n{info.query[:2000]}",
                                self.config["retrieval_fallback"])  # fmt: skip
        blocks, items = [], []
        for role in chosen:
            recall = self.children[role].retrieve(info)
            if recall.block:
                blocks.append(f"[{role}]\n{recall.block}")
                items += [RetrievedItem(f"{role}:{item.id}", item.text, item.score) for item in recall.retrieved]
        return Recall("\n\n".join(blocks), tuple(items)) if blocks else Recall()

    def update(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        """Routing first; then each chosen child applies its own write policy."""
        chosen, reasoning = self._route("mems.route_update", UPDATE_PROMPT, summary(info, trajectory, outcome),
                                        self.config["update_fallback"])  # fmt: skip
        reports = {role: self.children[role].update(info, trajectory, outcome) for role in chosen}
        added = tuple(f"{role}:{item}" for role, report in reports.items() for item in report.added)
        updated = tuple(f"{role}:{item}" for role, report in reports.items() for item in report.updated)
        deleted = tuple(f"{role}:{item}" for role, report in reports.items() for item in report.deleted)
        reasons = "; ".join(f"{role}: {r.reason}" for role, r in reports.items() if r.reason)
        stored = any(r.stored for r in reports.values())
        return UpdateReport(stored=stored, added=added, updated=updated, deleted=deleted,
                            reason=f"routed to {', '.join(chosen) or 'no child'} ({reasoning}); {reasons}".strip("; "))  # fmt: skip

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        return self.update(info, trajectory, outcome)

    def reset(self) -> None:
        for child in self.children.values():
            child.reset()

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        state = {
            "version": STATE_VERSION,
            "memory": self.name,
            "children": {r: c.name for r, c in self.children.items()},
        }
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")
        for role, child in self.children.items():
            child.save(path / role)

    def load(self, path: Path) -> None:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        ours = {r: c.name for r, c in self.children.items()}
        if state.get("children") != ours:
            raise ValueError(f"{path}: saved with children {state.get('children')}, this mems has {ours}")
        for role, child in self.children.items():
            child.load(path / role)
