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


@pytest.fixture(scope="session")
def mariadb_url(tmp_path_factory):
    """URL of a throwaway MariaDB server for the whole test session. Skips when MariaDB is not installed,
    unless AMB_REQUIRE_MARIADB=1 (set by .ci/run), where a missing server is a failure."""
    import os

    from tests.support.mariadb import MariaDBServer, missing_binaries

    missing = missing_binaries()
    if missing:
        message = f"MariaDB is not installed ({', '.join(missing)} not found): apt-get install -y mariadb-server"
        if os.environ.get("AMB_REQUIRE_MARIADB") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb")).start()
    yield server.url
    server.stop()


@pytest.fixture(params=["sqlite", "mariadb"])
def sql_backend(request):
    """Every SQL-backend test runs on the embedded SQLite backend and on a real MariaDB server."""
    from taskcases.dbbench.backends import open_backend

    url = request.getfixturevalue("mariadb_url") if request.param == "mariadb" else None
    backend = open_backend(url, statement_timeout_s=1.0)
    yield backend
    backend.close()


class ReferenceMemoryLLM:
    """The reference model's answers to memory operations, called in process (the HTTP path is covered by
    the integration tests). Records every call."""

    def __init__(self):
        self.calls = []

    def chat(self, messages, *, purpose, operation="", **_):
        from pytest_amb import registry
        from pytest_amb.llm.reference import server

        self.calls.append({"purpose": purpose, "operation": operation, "messages": messages})
        return server.respond({"messages": messages}, operation, (), registry.memory_operations())


class ScriptedLLM:
    """Answers each memory operation with the next scripted reply for it (a test double for decisions
    the reference model never makes, e.g. DELETE)."""

    def __init__(self, replies: dict):
        self.replies = {op: list(answers) for op, answers in replies.items()}
        self.calls = []

    def chat(self, messages, *, purpose, operation="", **_):
        self.calls.append({"operation": operation, "messages": messages})
        return {"role": "assistant", "content": self.replies[operation].pop(0)}


@pytest.fixture
def reference_memory_llm():
    return ReferenceMemoryLLM()


@pytest.fixture(autouse=True)
def _fresh_registry():
    """In-process pytester runs may install packages (entry points) for one test: forget them afterwards."""
    yield
    from pytest_amb import registry

    registry.refresh()


@pytest.fixture(scope="session")
def _onnx_exports(tmp_path_factory):
    """One ONNX export of the bundled embedding model for the whole test session (an export takes seconds)."""
    return tmp_path_factory.mktemp("onnx-exports")


@pytest.fixture(autouse=True)
def _response_cache_of_the_test(tmp_path_factory, monkeypatch, _onnx_exports):
    """Runs against real endpoints cache their answers by default: each test gets its own cache, so no test
    replays another's answers (an outage test must meet its outage) and none writes into the user's home. So do
    embedded vectors; the ONNX export of the embedding model is shared by the session."""
    monkeypatch.setenv("AMB_ONNX_DIR", str(_onnx_exports))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))  # the cache's default home
