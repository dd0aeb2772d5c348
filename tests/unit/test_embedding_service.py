"""The embedding service and its vector cache: a text is embedded once (in the process and across runs), texts
embedded ahead are waited for rather than embedded again, a damaged cache file costs only the damaged records, and
a runtime that cannot load is one clear error on the steps that need it."""

import threading
import warnings

import numpy as np
import pytest

from pytest_amb.embedding import EmbedderError
from pytest_amb.embedding_service import EmbeddingService
from pytest_amb.vector_cache import VectorCache, text_digest


class CountingRuntime:
    """A pure runtime (the vector depends on the text only) that records every text it embeds; ``gate`` holds
    each call until the test lets it go."""

    name = "counting"
    dim = 8
    cache_id = "counting-runtime-1"

    def __init__(self, gate: threading.Event | None = None):
        self.embedded: list[str] = []
        self.gate = gate

    def encode(self, texts):
        if self.gate is not None:
            self.gate.wait(5)
        self.embedded += texts
        rows = [np.frombuffer(text_digest(t)[: self.dim * 4], dtype=np.uint8)[: self.dim].astype(np.float32) for t in texts]
        vectors = np.array(rows) + 1.0
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def provenance(self):
        return {"runtime": "counting"}


def _service(runtime, cache_dir=None, ahead=True):
    return EmbeddingService("counting", lambda: runtime, cache_dir, ahead)


def test_a_text_is_embedded_once_and_the_vectors_come_back_in_order():
    runtime = CountingRuntime()
    service = _service(runtime)
    first = service.encode(["b", "a", "b"])
    again = service.encode(["a", "c"])
    assert runtime.embedded == ["b", "a", "c"]  # one batch per call, each text once
    assert first.shape == (3, 8) and first.dtype == np.float32
    assert np.array_equal(first[0], first[2]) and np.array_equal(first[1], again[0])
    assert service.encode([]).shape == (0, 8)
    service.close()


def test_texts_embedded_ahead_are_waited_for_not_embedded_again():
    gate = threading.Event()
    runtime = CountingRuntime(gate)
    service = _service(runtime)
    service.ahead(["next query", "a session chunk"])
    assert not service.idle()
    done = []
    waiter = threading.Thread(target=lambda: done.append(service.encode(["next query"])))
    waiter.start()
    gate.set()
    waiter.join(5)
    assert done and done[0].shape == (1, 8)
    service.encode(["a session chunk"])
    assert sorted(runtime.embedded) == ["a session chunk", "next query"]  # nothing twice
    assert service.idle()
    service.close()


def test_ahead_off_embeds_only_on_demand():
    runtime = CountingRuntime()
    service = _service(runtime, ahead=False)
    service.ahead(["never asked for"])
    service.encode(["asked"])
    assert runtime.embedded == ["asked"]
    service.close()


def test_vectors_are_reused_by_a_later_run_and_identical(tmp_path):
    first_runtime, second_runtime = CountingRuntime(), CountingRuntime()
    first = _service(first_runtime, tmp_path)
    vectors = first.encode(["one", "two"])
    first.close()
    second = _service(second_runtime, tmp_path)
    again = second.encode(["two", "one", "three"])
    assert second_runtime.embedded == ["three"]
    assert again[0].tobytes() == vectors[1].tobytes() and again[1].tobytes() == vectors[0].tobytes()
    second.close()


def test_a_torn_record_is_skipped_and_later_records_stay_readable(tmp_path):
    cache = VectorCache("rt", 4, tmp_path)
    cache.put([text_digest("kept")], np.ones((1, 4), dtype=np.float32))
    with cache.path.open("ab") as handle:  # a crash in the middle of a write
        handle.write(b"\x01" * 17)
    cache.put([text_digest("after")], np.full((1, 4), 0.5, dtype=np.float32))
    with cache.path.open("r+b") as handle:  # a flipped bit in the first record
        handle.seek(40)
        byte = handle.read(1)
        handle.seek(40)
        handle.write(bytes([byte[0] ^ 0x10]))
    reread = VectorCache("rt", 4, tmp_path)
    assert reread.get(text_digest("kept")) is None  # its check fails: computed again, never used
    assert np.array_equal(reread.get(text_digest("after")), np.full(4, 0.5, dtype=np.float32))
    assert reread.read_from_disk == 1


def test_an_unwritable_cache_warns_once_and_keeps_vectors_in_memory(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = VectorCache("rt", 4, blocker)
        cache.put([text_digest("a")], np.ones((1, 4), dtype=np.float32))
        cache.put([text_digest("b")], np.ones((1, 4), dtype=np.float32))
    assert len(caught) == 1 and "kept in memory only" in str(caught[0].message)
    assert cache.get(text_digest("b")) is not None


def test_a_runtime_that_cannot_load_fails_each_step_that_needs_it_with_one_line():
    def load():
        raise OSError("model.safetensors: No such file or directory")

    service = EmbeddingService("missing-model", load, None)
    service.ahead(["ignored"])  # preparing never raises
    for _ in range(2):
        with pytest.raises(EmbedderError, match="cannot load embedding model 'missing-model': OSError: model"):
            service.encode(["needed"])
    service.close()
