"""awm_pro: Agent Workflow Memory with mem0-style management and retrieval (spec amb_memories §3.2).

From each successful episode: render the trajectory, *with* the agent's tool calls and (cut) tool
results (the original dropped the calls, so the actions were missing); induce workflows (LLM call 1,
JSON ``{"workflows": [{name, description, steps}]}``, with a ``## name`` markdown fallback); compare
each with its most similar stored workflows, shown with ids remapped to "0".."n-1"; decide ADD / UPDATE /
DELETE / NONE (LLM call 2); apply in place in a deletable index. Retrieval: the top-k workflows by the
episode's query. Conversation sessions are not induced from (they have no actions).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from memories import awm_reference
from memories.config import yaml_defaults
from memories.index import VectorIndex
from memories.llm_json import ask, ask_json, parse_json_object
from pytest_amb.interfaces import EpisodeInfo, Message, Outcome, RetrievedItem
from pytest_amb.memory import STATE_VERSION, Memory, Recall, UpdateReport

PROMPT_TEMPLATE = (
    "Here are some useful workflows learned from past similar episodes, you can use them to help you complete the task:"
)
INDUCTION_PROMPT = """You extract reusable workflows from one completed trajectory of an agent. A workflow is a \
common sub-routine that would help with similar tasks: a snake_case name, a one-line description of when to use it \
("Given that ..., this workflow ..."), and at least 2 steps. Replace the values specific to this task (names, \
numbers, table and column names, quoted strings) with descriptive {variable} placeholders. Do not overlap workflows.
Answer with JSON only: {"workflows": [{"name": "...", "description": "...", "steps": ["...", "..."]}]}"""
MANAGEMENT_PROMPT = """You manage a memory of workflows. Compare each new workflow with the existing ones and decide:
- ADD: it is new (a new id);
- UPDATE: an existing workflow does the same task but the new one has more detail (keep its id, give the merged text \
and "old_memory");
- DELETE: an existing workflow is contradicted by the new one (its id);
- NONE: already present (its id).
If the existing memory is empty, everything is ADD.
Answer with JSON only: {"memory": [{"id": "...", "text": "...", "event": "ADD|UPDATE|DELETE|NONE", "old_memory": "..."}]}"""
EMPTY = "Current workflow memory is empty."


@dataclass
class Workflow:
    id: int
    text: str
    sources: list[str] = field(default_factory=list)


def trajectory_text(query: str, trajectory: list[Message], *, tool_chars: int, max_chars: int) -> str:
    """``Task: <query>`` then one line per turn after the task, with tool calls as ``Action: name(args)``."""
    lines = [f"Task: {query}"]
    seen_task = False
    for message in trajectory:
        role, content = message.get("role"), str(message.get("content") or "").strip()
        if role == "system":
            continue
        if role == "user" and not seen_task:
            seen_task = True
            continue
        if role == "assistant":
            if content:
                lines.append(f"Assistant: {content}")
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                lines.append(f"Action: {function.get('name')}({function.get('arguments', '')})")
        elif role == "tool":
            lines.append(f"Observation: {content[:tool_chars]}" + ("..." if len(content) > tool_chars else ""))
        elif content:
            lines.append(f"User: {content}")
    return "\n".join(lines)[:max_chars]


def parse_workflows(content: str) -> list[str]:
    """Workflow texts from the induction answer: the JSON form, else ``## name`` markdown sections."""
    parsed = parse_json_object(content)
    if parsed is not None and isinstance(parsed.get("workflows"), list):
        texts = []
        for item in parsed["workflows"]:
            if not isinstance(item, dict) or not item.get("steps"):
                continue
            steps = [f"Step {i}: {step}" for i, step in enumerate(item["steps"], start=1)]
            texts.append(
                "\n".join([f"## {item.get('name') or 'workflow'}", str(item.get("description") or ""), *steps]).strip()
            )
        return texts
    return ["## " + piece.strip() for piece in str(content or "").split("## ")[1:] if piece.strip()]


def readable_induction(content: str) -> bool:
    """An induction answer that says something: a JSON object with a ``workflows`` list (possibly empty), or
    ``## name`` sections; anything else (an error page, prose) is asked again, then an error."""
    parsed = parse_json_object(content)
    return (parsed is not None and isinstance(parsed.get("workflows"), list)) or bool(parse_workflows(content))


class AwmProMemory(Memory):
    name = "awm_pro"
    order = 3
    reports_every_change = True  # an update that reports no change changed nothing
    default_config = yaml_defaults("awm_pro")
    needs_embedder = True
    needs_llm = True
    reference_operations = awm_reference.OPERATIONS  # the reference model's answers to its own calls

    def __init__(self, deps):
        super().__init__(deps)
        self.embedder = deps.embedder
        self.workflows: dict[int, Workflow] = {}
        self.index = VectorIndex(self.embedder.dim)

    def texts_ahead(self, info: EpisodeInfo, session: list[Message] | None = None) -> list[str]:
        return [info.query] if session is None and info.query else []

    def retrieve(self, info: EpisodeInfo) -> Recall:
        if not self.workflows or not info.query:
            return Recall()
        hits = self.index.search(self.embedder.encode([info.query])[0], int(self.config["top_k"]))
        retrieved = tuple(RetrievedItem(str(i), self.workflows[i].text, round(score, 6)) for i, score in hits)
        return Recall(PROMPT_TEMPLATE + "\n\n" + "\n\n".join(item.text for item in retrieved), retrieved)

    def write(self, info: EpisodeInfo, trajectory: list[Message], outcome: Outcome) -> UpdateReport:
        if outcome.kind == "session_injection":
            return UpdateReport(stored=False, reason="workflows are induced from episodes, not from conversations")
        text = trajectory_text(info.query, trajectory, tool_chars=int(self.config["tool_output_chars"]),
                               max_chars=int(self.config["max_trajectory_chars"]))  # fmt: skip
        answer = ask(
            self.deps.llm,
            [{"role": "system", "content": INDUCTION_PROMPT},
             {"role": "user", "content": "Here is one completed trajectory:\n\n" + text}],
            operation="awm.induce", usable=readable_induction,
        )  # fmt: skip
        new = parse_workflows(answer)
        if not new:
            return UpdateReport(stored=False, reason="the induction found no workflow in this trajectory")
        mapping = self._similar(new)
        existing = "\n\n".join(f"ID: {short}\n{self.workflows[real].text}" for short, real in mapping.items()) or EMPTY
        decision = ask_json(
            self.deps.llm,
            [{"role": "system", "content": MANAGEMENT_PROMPT},
             {"role": "user", "content": f"Existing workflows:\n{existing}\n\nNew workflows:\n{json.dumps(new)}"}],
            operation="awm.manage",
        )  # fmt: skip
        return self._apply(decision.get("memory") or [], mapping, f"{info.task}/{info.sample_id}")

    def _similar(self, new: list[str]) -> dict[str, int]:
        found: dict[int, None] = {}
        if self.workflows:
            for vector in self.embedder.encode(new):
                for workflow_id, _ in self.index.search(vector, int(self.config["similar_top_k"])):
                    found.setdefault(workflow_id)
        return {str(i): real for i, real in enumerate(found)}

    def _apply(self, items: list, mapping: dict[str, int], source: str) -> UpdateReport:
        added, updated, deleted = [], [], []
        for item in items:
            if not isinstance(item, dict):
                continue
            event, text = str(item.get("event", "")).upper(), str(item.get("text") or "").strip()
            real = mapping.get(str(item.get("id")))
            if event == "ADD" and text:
                workflow = Workflow(max(self.workflows, default=0) + 1, text, [source])
                self.workflows[workflow.id] = workflow
                self.index.add([workflow.id], self.embedder.encode([text]))
                added.append(str(workflow.id))
            elif event == "UPDATE" and real in self.workflows and text:
                self.workflows[real].text = text
                self.workflows[real].sources.append(source)
                self.index.remove([real])
                self.index.add([real], self.embedder.encode([text]))
                updated.append(str(real))
            elif event == "DELETE" and real in self.workflows:
                del self.workflows[real]
                self.index.remove([real])
                deleted.append(str(real))
        changed = bool(added or updated or deleted)
        return UpdateReport(stored=changed, added=tuple(added), updated=tuple(updated), deleted=tuple(deleted),
                            reason="" if changed else "every induced workflow was already known")  # fmt: skip

    def reset(self) -> None:
        self.workflows = {}
        self.index.clear()

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        ids = sorted(self.workflows)
        state = {"version": STATE_VERSION, "memory": self.name, "embedder": self.embedder.name,
                 "workflows": [asdict(self.workflows[i]) for i in ids]}  # fmt: skip
        (path / "state.json").write_text(json.dumps(state), encoding="utf-8")
        np.save(path / "vectors.npy", self.index.vectors(ids))

    def load(self, path: Path) -> None:
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if state.get("memory") != self.name or state.get("embedder") != self.embedder.name:
            raise ValueError(f"{path}: saved by {state.get('memory')} with embedder '{state.get('embedder')}'")
        self.reset()
        workflows = [Workflow(**w) for w in state["workflows"]]
        if workflows:
            self.index.add([w.id for w in workflows], np.load(path / "vectors.npy"))
        self.workflows = {w.id: w for w in workflows}
