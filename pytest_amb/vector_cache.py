"""Vectors of texts already embedded, for one embedding runtime (model files + runtime + numerics): held in memory
for the process and appended to one file per runtime under the user's cache directory, so that re-runs, other
seeds and other memories over the same data never embed a text twice.

A runtime's ``encode`` is a pure function of the text (embedding.py), so a stored vector is the vector the runtime
would compute: reading it instead changes no result. A record on disk is the text's SHA-256, its float32 vector
and a CRC-32 of both. Processes (xdist workers, parallel runs) append whole records with one ``write`` each; a
record that fails its check (a torn write after a crash, a misaligned tail) is skipped and computed again, never
used. Deleting the file (or the folder) is always safe.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
import zlib
from pathlib import Path

import numpy as np

DIGEST_BYTES = 32
CHECK_BYTES = 4
SUFFIX = ".vectors"


def text_digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def default_directory(environ=None) -> Path:
    """``$XDG_CACHE_HOME/pytest-amb/embeddings``, else ``~/.cache/pytest-amb/embeddings`` (beside the LLM cache)."""
    from pytest_amb.llm.cache import default_directory as llm_cache_directory

    return llm_cache_directory(environ).parent / "embeddings"


class VectorCache:
    def __init__(self, runtime_id: str, dim: int, directory: Path | None):
        if not re.fullmatch(r"[A-Za-z0-9._-]+", runtime_id):
            raise ValueError(f"runtime id '{runtime_id}' is not a file name")
        self.dim = dim
        self.record_bytes = DIGEST_BYTES + 4 * dim + CHECK_BYTES
        self.path = Path(directory) / f"{runtime_id}{SUFFIX}" if directory is not None else None
        self._vectors: dict[bytes, np.ndarray] = {}
        self._write_failed = False
        self.read_from_disk = self._read() if self.path is not None else 0

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, digest: bytes) -> np.ndarray | None:
        return self._vectors.get(digest)

    def put(self, digests: list[bytes], vectors: np.ndarray) -> None:
        """Keep these vectors (float32, one row per digest) and append the new ones to the file."""
        records = []
        for digest, vector in zip(digests, vectors):
            if digest in self._vectors:
                continue
            vector = np.ascontiguousarray(vector, dtype=np.float32).reshape(self.dim)
            vector.setflags(write=False)
            self._vectors[digest] = vector
            payload = digest + vector.tobytes()
            records.append(payload + zlib.crc32(payload).to_bytes(CHECK_BYTES, "little"))
        if records and self.path is not None and not self._write_failed:
            self._append(b"".join(records))

    def _read(self) -> int:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        except OSError as exc:  # not writable either: one warning, vectors in memory only
            self._write_failed = True
            self._warn(f"cannot be read ({exc.strerror or exc}); vectors are kept in memory only")
            return 0
        size, found = self.record_bytes, 0
        for start in range(0, len(data) - size + 1, size):
            record = data[start : start + size]
            payload, check = record[:-CHECK_BYTES], record[-CHECK_BYTES:]
            if zlib.crc32(payload).to_bytes(CHECK_BYTES, "little") != check:
                continue
            vector = np.frombuffer(payload, dtype=np.float32, offset=DIGEST_BYTES).copy()
            vector.setflags(write=False)
            self._vectors.setdefault(payload[:DIGEST_BYTES], vector)
            found += 1
        return found

    def _append(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                misaligned = os.fstat(fd).st_size % self.record_bytes
                if misaligned:  # a torn record before ours: pad it out so that ours are read at their place
                    data = bytes(self.record_bytes - misaligned) + data
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:  # a full or read-only disk costs the cache, never the run
            self._write_failed = True
            self._warn(f"cannot be written ({exc.strerror or exc}); vectors are kept in memory only")

    def _warn(self, what: str) -> None:
        warnings.warn(f"amb: the embedding cache {self.path} {what}", stacklevel=3)
