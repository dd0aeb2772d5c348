"""The native mem0 store (spec amb_memories §7.1): records with scope ids in a deletable vector index,
a history log of every change, lemmas for BM25, and (v3) an entity collection linked to records.

Writes are synchronous: a search right after an add sees it. Ids are deterministic (``m1``, ``m2``, ...)
so the same run gives the same memories.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from memories.index import VectorIndex
from memories.mem0 import text as mtext
from pytest_amb.memory import Scope


@dataclass
class Record:
    id: str
    text: str
    hash: str
    scope: dict
    created: int  # logical time (the store's change counter), deterministic
    updated: int
    attributed_to: str = ""
    metadata: dict = field(default_factory=dict)
    lemmas: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.id[1:])


@dataclass
class Entity:
    id: str
    text: str
    type: str
    scope: dict
    linked: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.id[1:])


def text_hash(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def in_scope(item_scope: dict, scope: Scope) -> bool:
    """mem0's rule: every id the search gives must equal the stored one (AND of equality filters)."""
    return all(item_scope.get(key) == value for key, value in scope.to_json().items() if value)


class Mem0Store:
    def __init__(self, embedder):
        self.embedder = embedder
        self.records: dict[str, Record] = {}
        self.entities: dict[str, Entity] = {}
        self.history: list[dict] = []
        self.clock = 0
        self.index = VectorIndex(embedder.dim)
        self.entity_index = VectorIndex(embedder.dim)

    # -- records ------------------------------------------------------------------------------------
    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def add(self, text: str, scope: Scope, *, vector=None, attributed_to: str = "", metadata=None) -> Record:
        number = self._tick()
        record = Record(
            id=f"m{number}",
            text=text,
            hash=text_hash(text),
            scope=scope.to_json(),
            created=number,
            updated=number,
            attributed_to=attributed_to,
            metadata=dict(metadata or {}),
            lemmas=mtext.lemmas(text),
        )
        vector = self.embedder.encode([text])[0] if vector is None else vector
        self.index.add([record.number], np.asarray([vector]))
        self.records[record.id] = record
        self._log(record.id, None, text, "ADD")
        return record

    def update(self, record_id: str, text: str) -> Record:
        record = self.records[record_id]
        old = record.text
        record.text, record.hash, record.lemmas = text, text_hash(text), mtext.lemmas(text)
        record.updated = self._tick()
        self.index.remove([record.number])
        self.index.add([record.number], self.embedder.encode([text]))
        self._log(record_id, old, text, "UPDATE")
        return record

    def delete(self, record_id: str) -> None:
        record = self.records.pop(record_id)
        self.index.remove([record.number])
        for entity in self.entities.values():
            if record_id in entity.linked:
                entity.linked.remove(record_id)
        self._log(record_id, record.text, None, "DELETE")

    def _log(self, memory_id: str, old, new, event: str) -> None:
        self.history.append({"memory_id": memory_id, "old_memory": old, "new_memory": new, "event": event,
                             "at": self.clock})  # fmt: skip

    def search(self, vector, scope: Scope, limit: int) -> list[tuple[Record, float]]:
        """Semantic search within the scope, best first (cosine similarity)."""
        hits = self.index.search(vector, len(self.index))
        out = []
        for number, score in hits:
            record = self.records.get(f"m{number}")
            if record is not None and in_scope(record.scope, scope):
                out.append((record, score))
                if len(out) >= limit:
                    break
        return out

    def keyword_scores(self, query_lemmas: list[str], scope: Scope) -> dict[str, float]:
        documents = {r.id: r.lemmas for r in self.records.values() if in_scope(r.scope, scope)}
        return mtext.bm25_scores(query_lemmas, documents)

    # -- entities (v3) -------------------------------------------------------------------------------
    def link(self, record: Record, found: list[tuple[str, str]], scope: Scope, threshold: float = 0.95) -> None:
        if not found:
            return
        vectors = self.embedder.encode([text for _, text in found])
        for (kind, name), vector in zip(found, vectors):
            key = mtext.normalize(name)
            entity = next(
                (e for e in self.entities.values() if mtext.normalize(e.text) == key and in_scope(e.scope, scope)), None
            )
            if entity is None:
                for number, score in self.entity_index.search(vector, len(self.entity_index)):
                    candidate = self.entities.get(f"e{number}")
                    if candidate is not None and score >= threshold and in_scope(candidate.scope, scope):
                        entity = candidate
                        break
            if entity is None:
                entity = Entity(f"e{self._tick()}", name, kind, scope.to_json())
                self.entities[entity.id] = entity
                self.entity_index.add([entity.number], np.asarray([vector]))
            if record.id not in entity.linked:
                entity.linked.append(record.id)

    def entity_matches(
        self, vector, scope: Scope, minimum: float = 0.5, limit: int = 500
    ) -> list[tuple[Entity, float]]:
        out = []
        for number, score in self.entity_index.search(vector, min(limit, len(self.entity_index))):
            entity = self.entities.get(f"e{number}")
            if entity is not None and score >= minimum and in_scope(entity.scope, scope):
                out.append((entity, score))
        return out

    # -- checkpoints -----------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        records = sorted(self.records.values(), key=lambda r: r.number)
        entities = sorted(self.entities.values(), key=lambda e: e.number)
        state = {"clock": self.clock, "records": [asdict(r) for r in records],
                 "entities": [asdict(e) for e in entities], "history": self.history}  # fmt: skip
        (path / "store.json").write_text(json.dumps(state), encoding="utf-8")
        np.save(path / "vectors.npy", self.index.vectors([r.number for r in records]))
        np.save(path / "entity_vectors.npy", self.entity_index.vectors([e.number for e in entities]))

    def load(self, path: Path) -> None:
        state = json.loads((path / "store.json").read_text(encoding="utf-8"))
        self.__init__(self.embedder)
        self.clock = state["clock"]
        self.history = state["history"]
        records = [Record(**r) for r in state["records"]]
        entities = [Entity(**e) for e in state["entities"]]
        self.records = {r.id: r for r in records}
        self.entities = {e.id: e for e in entities}
        if records:
            self.index.add([r.number for r in records], np.load(path / "vectors.npy"))
        if entities:
            self.entity_index.add([e.number for e in entities], np.load(path / "entity_vectors.npy"))
