"""Mem0's two algorithms over the native store (spec amb_memories §7.2 and §7.3).

v1: extract facts (LLM call 1), search the 5 nearest existing memories of each fact, remap their ids to
"0".."n-1", decide ADD / UPDATE / DELETE / NONE per fact (LLM call 2), apply, log history.
v3: one ADD-only extraction given the 10 nearest existing memories (one LLM call), hash de-duplication,
entity linking; search = semantic + BM25 + entity boost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from memories.llm_json import ask_json
from memories.mem0 import text as mtext
from memories.mem0.store import Mem0Store, text_hash
from pytest_amb.memory import Scope

FACT_EXTRACTION_PROMPT = """You are a Personal Information Organizer: you extract facts, preferences, plans, \
activities, personal details and other things worth remembering from a conversation, so they can be recalled later.
Extract facts only from the messages of the user role. Each fact is one short, self-contained sentence; keep names, \
numbers and dates (write relative dates as absolute ones using the observation date). If nothing is worth keeping, \
return an empty list.
Observation date: {date}
Answer with JSON only: {{"facts": ["...", "..."]}}"""

UPDATE_PROMPT = """You are a smart memory manager. Compare each new fact with the current memory and decide, per fact:
- ADD: it is new information (give it a new id);
- UPDATE: it is about the same thing as a current memory but differs or adds detail (keep that memory's id, give the \
richer text and "old_memory"); paraphrases of the same information are not updates;
- DELETE: it contradicts a current memory (give that memory's id);
- NONE: it is already present (give that memory's id).
Answer with JSON only: {"memory": [{"id": "...", "text": "...", "event": "ADD|UPDATE|DELETE|NONE", "old_memory": "..."}]}"""

ADDITIVE_EXTRACTION_PROMPT = """You extract memories from a conversation, from every speaker (user and assistant, \
or the named speakers). Each memory is self-contained and rich in context (15-80 words): keep proper nouns, numbers \
and qualifiers, and turn relative dates into absolute ones with the observation date. Never extract again what the \
existing memories already say. Do not echo the assistant restating the user.
Answer with JSON only: {"memory": [{"id": "0", "text": "...", "attributed_to": "user|assistant"}]}"""


@dataclass
class AddReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def render(messages: list[dict]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)


def _chat(llm, operation: str, system: str, user: str) -> dict:
    """The JSON object the memory model answers; an answer without one is asked again, then raises
    MemoryAnswerError (an infrastructure ERROR of the step: the memory is not left silently unchanged)."""
    return ask_json(
        llm, [{"role": "system", "content": system}, {"role": "user", "content": user}], operation=operation
    )


# -- v1 ---------------------------------------------------------------------------------------------------
def add_v1(
    store: Mem0Store, llm, messages: list[dict], scope: Scope, *, date: str, candidates: int, metadata=None
) -> AddReport:
    report = AddReport()
    extracted = _chat(
        llm, "mem0.extract", FACT_EXTRACTION_PROMPT.format(date=date or "unknown"), "Input:\n" + render(messages)
    )
    facts = [str(f).strip() for f in extracted.get("facts") or [] if str(f).strip()]
    if not facts:
        return report
    vectors = store.embedder.encode(facts)
    cached = dict(zip(facts, vectors))
    existing: dict[str, str] = {}
    for vector in vectors:
        for record, _ in store.search(vector, scope, candidates):
            existing.setdefault(record.id, record.text)
    mapping = {str(i): real for i, real in enumerate(existing)}  # the LLM sees "0".."n-1", never real ids
    current = [{"id": short, "text": existing[real]} for short, real in mapping.items()]
    user = (
        "Current memory:\n" + (json.dumps(current) if current else "Current memory is empty.")
        + "\n\nNew facts:\n" + json.dumps(facts)
    )  # fmt: skip
    decision = _chat(llm, "mem0.update", UPDATE_PROMPT, user)
    for item in decision.get("memory") or []:
        if not isinstance(item, dict):
            continue
        event, text, real = (
            str(item.get("event", "")).upper(),
            str(item.get("text") or "").strip(),
            mapping.get(str(item.get("id"))),
        )
        if event == "ADD" and text:
            report.added.append(store.add(text, scope, vector=cached.get(text), metadata=metadata).id)
        elif event == "UPDATE" and real in store.records and text:
            store.update(real, text)
            report.updated.append(real)
        elif event == "DELETE" and real in store.records:
            store.delete(real)
            report.deleted.append(real)
        elif event == "NONE" and real:
            report.unchanged.append(real)
    return report


def search_v1(store: Mem0Store, query: str, scope: Scope, *, top_k: int, threshold: float) -> list[tuple]:
    vector = store.embedder.encode([query])[0]
    return [(r, s) for r, s in store.search(vector, scope, top_k) if s >= threshold]


# -- v3 ---------------------------------------------------------------------------------------------------
def add_v3(
    store: Mem0Store, llm, messages: list[dict], scope: Scope, *, date: str, existing_k: int, metadata=None
) -> AddReport:
    report = AddReport()
    parsed = render(messages)
    nearest = store.search(store.embedder.encode([parsed])[0], scope, existing_k)
    existing = [{"id": str(i), "text": record.text} for i, (record, _) in enumerate(nearest)]
    user = (
        "Existing Memories:\n" + json.dumps(existing) + "\n\nNew Messages:\n" + parsed
        + f"\n\nObservation Date: {date or 'unknown'}"
    )  # fmt: skip
    extracted = _chat(llm, "mem0.extract_v3", ADDITIVE_EXTRACTION_PROMPT, user)
    items = [i for i in extracted.get("memory") or [] if isinstance(i, dict) and str(i.get("text") or "").strip()]
    seen = {record.hash for record, _ in nearest}
    fresh = []
    for item in items:
        text = str(item["text"]).strip()
        if text_hash(text) in seen:
            continue  # hash de-duplication against the retrieved memories and the batch
        seen.add(text_hash(text))
        fresh.append((text, str(item.get("attributed_to") or "")))
    if not fresh:
        return report
    vectors = store.embedder.encode([text for text, _ in fresh])
    for (text, who), vector in zip(fresh, vectors):
        record = store.add(text, scope, vector=vector, attributed_to=who, metadata=metadata)
        store.link(record, mtext.entities(text), scope)
        report.added.append(record.id)
    return report


def search_v3(store: Mem0Store, query: str, scope: Scope, *, top_k: int, threshold: float) -> list[tuple]:
    """Semantic candidates (max(4·top_k, 60)) scored by (semantic + BM25 + entity boost) / max_possible."""
    vector = store.embedder.encode([query])[0]
    candidates = store.search(vector, scope, max(4 * top_k, 60))
    query_lemmas = mtext.lemmas(query)
    raw = store.keyword_scores(query_lemmas, scope)
    bm25 = {rid: mtext.bm25_normalized(score, len(query_lemmas)) for rid, score in raw.items()}
    boost: dict[str, float] = {}
    found = mtext.entities(query)[:8]
    if found:
        for entity_vector in store.embedder.encode([name for _, name in found]):
            for entity, similarity in store.entity_matches(entity_vector, scope):
                damp = 1 / (1 + 0.001 * (len(entity.linked) - 1) ** 2)
                for rid in entity.linked:
                    boost[rid] = max(boost.get(rid, 0.0), similarity * 0.5 * damp)
    maximum = 1 + (1 if bm25 else 0) + (0.5 if boost else 0)
    scored = []
    for record, semantic in candidates:
        if semantic < threshold:
            continue
        combined = min(1.0, (semantic + bm25.get(record.id, 0.0) + boost.get(record.id, 0.0)) / maximum)
        scored.append((record, combined))
    scored.sort(key=lambda pair: (-pair[1], pair[0].number))
    return scored[:top_k]
