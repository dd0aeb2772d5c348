"""An exact inner-product vector index with stable integer ids (faiss ``IndexIDMap2(IndexFlatIP)``).

On L2-normalised vectors the inner product is the cosine similarity.
"""

from __future__ import annotations

import numpy as np


class VectorIndex:
    def __init__(self, dim: int):
        import faiss

        faiss.omp_set_num_threads(1)  # small indexes; avoids oversubscription under pytest-xdist
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))  # faiss keeps the inner index alive

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: list[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        if len(self) == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        scores, ids = self._index.search(query, min(k, len(self)))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i != -1]

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def vectors(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in ids])

    def clear(self) -> None:
        self._index.reset()
