"""The process's embedder as memories use it, built so that embedding costs the run as little wall time as it can.

- The runtime (embedding.py) loads in a background thread as soon as the service exists, so loading overlaps with
  collection and the reference model's start-up; ``dim`` and ``encode`` wait for it.
- ``encode(texts)``: vectors from the cache (vector_cache.py) when the text was embedded before, in this process or
  an earlier run; the rest in one runtime call. A text being embedded ahead is waited for, not embedded twice.
- ``ahead(texts)``: texts a coming step will need (the plan is fixed, so the next query and the next session are
  known) are embedded in the background thread while the process waits on the model. Demand goes first: an ahead
  job is one text, so ``encode`` waits for at most one text before its own work starts.

A runtime's vector is a pure function of the text (the same bits alone or in any batch), so neither the cache nor
the order in which texts were embedded changes a retrieval: the same seed gives the same journal with ``ahead`` on
or off (``--amb-embed-ahead``).
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from pytest_amb.embedding import EmbedderError
from pytest_amb.vector_cache import VectorCache, text_digest

DEMAND, AHEAD = 0, 1  # job priorities: a step waiting first


def onnx_directory() -> Path:
    """Where ONNX exports are kept: ``$AMB_ONNX_DIR``, else ``$XDG_CACHE_HOME/pytest-amb/onnx`` (86 MiB per model
    and runtime version; deleting it costs one export, a few seconds)."""
    from pytest_amb.vector_cache import default_directory

    return Path(os.environ.get("AMB_ONNX_DIR") or default_directory().parent / "onnx")


def load_runtime(name: str, runtime: str):
    """The embedding runtime ``--amb-embedding-runtime`` asks for (``auto``: onnxruntime for the bundled model)."""
    from pytest_amb.embedding import BUNDLED_NAME, load_embedder

    if runtime == "sentence-transformers" or (runtime == "auto" and name != BUNDLED_NAME):
        return load_embedder(name)
    from pytest_amb import embedding_onnx

    if name == BUNDLED_NAME:
        return embedding_onnx.load_bundled(onnx_directory())
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise EmbedderError(
            f"--amb-embedding-runtime=onnx needs a local model folder, and '{name}' is none; download the model "
            "to a folder and pass that, or use --amb-embedding-runtime=sentence-transformers"
        )
    return embedding_onnx.OnnxEmbedder(folder, embedding_onnx.ensure_export(folder, onnx_directory()), name=name)


class EmbeddingService:
    def __init__(self, name: str, load: Callable[[], object], cache_dir: Path | None, ahead: bool = True):
        self.name = name  # the model as configured (what checkpoints record)
        self.ahead_enabled = ahead
        self._cache_dir = cache_dir
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()  # FIFO within a priority
        self._lock = threading.Lock()
        self._pending: dict[bytes, Future] = {}  # digest -> its vector, being computed
        self._loaded: Future = Future()  # (runtime, cache)
        self._thread = threading.Thread(target=self._work, args=(load,), name="amb-embedding", daemon=True)
        self._thread.start()

    # -- what memories use -----------------------------------------------------------------------------
    @property
    def runtime(self):
        return self._ready()[0]

    @property
    def dim(self) -> int:
        return int(self.runtime.dim)

    def provenance(self) -> dict:
        return self.runtime.provenance()

    def encode(self, texts: list[str]) -> np.ndarray:
        runtime, cache = self._ready()
        digests = [text_digest(text) for text in texts]
        waits: dict[bytes, Future] = {}
        missing: dict[bytes, str] = {}
        with self._lock:
            for digest, text in zip(digests, texts):
                if cache.get(digest) is not None or digest in waits or digest in missing:
                    continue
                if digest in self._pending:
                    waits[digest] = self._pending[digest]
                else:
                    missing[digest] = text
            if missing:
                job = self._submit(DEMAND, missing)
                waits.update(dict.fromkeys(missing, job))
        for future in set(waits.values()):
            future.result()  # re-raises the runtime's failure
        if not texts:
            return np.zeros((0, runtime.dim), dtype=np.float32)
        return np.stack([cache.get(digest) for digest in digests])

    def ahead(self, texts: list[str]) -> None:
        """Embed these texts in the background, one job each, after any waiting demand."""
        if not self.ahead_enabled or (self._loaded.done() and self._loaded.exception() is not None):
            return
        with self._lock:
            for text in texts:
                digest = text_digest(text)
                if digest not in self._pending and not self._cached(digest):
                    self._submit(AHEAD, {digest: text})

    def idle(self) -> bool:
        """Nothing is being embedded or waiting to be (for tests and benchmarks)."""
        with self._lock:
            return not self._pending

    def close(self) -> None:
        self._jobs.put((DEMAND, -1, None, None))
        self._thread.join(timeout=5)

    # -- the background thread -----------------------------------------------------------------------
    def _ready(self):
        try:
            return self._loaded.result()
        except EmbedderError:
            raise
        except Exception as exc:  # a library's own error while loading: one line, as EmbedderError
            raise EmbedderError(f"cannot load embedding model '{self.name}': {type(exc).__name__}: {exc}") from exc

    def _cached(self, digest: bytes) -> bool:
        return self._loaded.done() and self._loaded.result()[1].get(digest) is not None

    def _submit(self, priority: int, texts: dict[bytes, str]) -> Future:
        """Queue a job (the caller holds the lock); its future is every text's until the vectors are cached."""
        future: Future = Future()
        for digest in texts:
            self._pending[digest] = future
        self._jobs.put((priority, next(self._order), texts, future))
        return future

    def _work(self, load: Callable[[], object]) -> None:
        try:
            runtime = load()
            cache_id = getattr(runtime, "cache_id", None)  # None: files unknown, vectors kept in this process only
            cache = VectorCache(cache_id or "in-memory", runtime.dim, self._cache_dir if cache_id else None)
            self._loaded.set_result((runtime, cache))
        except BaseException as exc:  # noqa: BLE001 (reported to every caller, from _ready)
            self._loaded.set_exception(exc)
            return
        runtime, cache = self._loaded.result()
        while True:
            _, _, texts, future = self._jobs.get()
            if texts is None:
                return
            try:
                todo = {digest: text for digest, text in texts.items() if cache.get(digest) is None}
                if todo:
                    vectors = runtime.encode(list(todo.values()))
                    with self._lock:
                        cache.put(list(todo), vectors)
                future.set_result(None)
            except BaseException as exc:  # noqa: BLE001 (the step that waits for it gets the error)
                future.set_exception(exc)
            finally:
                with self._lock:
                    for digest in texts:
                        if self._pending.get(digest) is future:
                            del self._pending[digest]
