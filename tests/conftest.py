import hashlib

import numpy as np
import pytest

pytest_plugins = ["pytester"]


class HashingEmbedder:
    """Test double for the sentence-transformers embedder: a deterministic bag-of-words hashing
    vectoriser (no model load), so memory unit tests run in milliseconds. Integration tests use the
    real bundled model."""

    name = "hashing-test-embedder"
    dim = 64

    def encode(self, texts):
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in str(text).lower().split():
                word = word.strip(".,!?;:'\"")
                if word:
                    slot = int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim
                    vectors[row, slot] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

    def provenance(self):
        return {"name": self.name}


@pytest.fixture
def hashing_embedder():
    return HashingEmbedder()
