"""``mem0.backend: mem0ai``: the same mechanism driven by the real ``mem0ai`` library (``pip install mem0ai``),
with a local FAISS store, the run's embedding model and the run's LLM endpoint.

The library's own prompts carry no ``X-AMB-Operation`` tag, so the reference model cannot answer them:
use this backend with a real model (``--amb-model``/``--amb-base-url``). Everything else (scopes,
retrieval block, checkpoints) is the native mechanism's.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


class Mem0aiBackend:
    def __init__(self, *, llm, embedder, algorithm_top_k: int, threshold: float):
        try:
            from mem0 import Memory
        except ImportError as exc:
            raise RuntimeError("mem0.backend 'mem0ai' needs the mem0ai package: pip install mem0ai") from exc
        if getattr(llm, "endpoint", "") == "reference":
            raise RuntimeError("mem0.backend 'mem0ai' needs a real LLM (--amb-model with --amb-base-url)")
        self.top_k, self.threshold = algorithm_top_k, threshold
        self.directory = Path(tempfile.mkdtemp(prefix="amb-mem0ai-"))
        location = embedder.provenance().get("location") or embedder.name
        self._config = {
            "llm": {"provider": "openai", "config": {"model": llm.model, "openai_base_url": llm.base_url,
                                                     "api_key": llm.api_key or "not-needed", "temperature": 0}},
            "embedder": {"provider": "huggingface", "config": {"model": location, "embedding_dims": embedder.dim}},
            "vector_store": {"provider": "faiss", "config": {"collection_name": "amb", "path": str(self.directory / "faiss"),
                                                             "embedding_model_dims": embedder.dim}},
            "history_db_path": str(self.directory / "history.db"),
        }  # fmt: skip
        self.memory = Memory.from_config(self._config)

    def add(self, messages: list[dict], scope, metadata: dict) -> list[str]:
        ids = {k: v for k, v in scope.to_json().items() if v}
        result = self.memory.add(messages, metadata=metadata, infer=True, **ids)
        return [item.get("id", "") for item in result.get("results", []) if item.get("event", "ADD") != "NONE"]

    def search(self, query: str, scope) -> list[tuple[str, str, float]]:
        filters = {k: v for k, v in scope.to_json().items() if v}
        found = self.memory.search(query, top_k=self.top_k, filters=filters, threshold=self.threshold)
        return [(item["id"], item["memory"], float(item.get("score") or 0)) for item in found.get("results", [])]

    def save(self, path: Path) -> None:
        shutil.copytree(self.directory, path / "mem0ai", dirs_exist_ok=True)

    def load(self, path: Path) -> None:
        shutil.copytree(path / "mem0ai", self.directory, dirs_exist_ok=True)
        from mem0 import Memory

        self.memory = Memory.from_config(self._config)
