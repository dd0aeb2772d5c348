"""The response cache inside the LLM client (issue 16), against real OpenAI-compatible servers on 127.0.0.1: what
a second run replays without a request, what is never stored, the cache modes, repeated and sampled requests per
step, what makes a request a different one, a cache that cannot be written, and the provider's prompt-cache
tokens on the call records."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from pytest_amb import registry
from pytest_amb.llm.cache import CacheMode, ResponseCache
from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger
from pytest_amb.llm.reference.server import LoopbackServer, ReferenceServer
from tests.support.scripted_endpoint import Request, ScriptedEndpoint, completion

MODEL = "gpt-4o-mini"
QUESTION = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "execute_sql",
            "description": "Run a statement",
            "parameters": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
        },
    }
]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # the client must talk to 127.0.0.1 directly, whatever the environment says
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def numbered(request: Request):
    """Every request gets its own answer ("answer 0", "answer 1", ...): a replay is told apart from a new draw."""
    return completion(f"answer {request.number}")


@pytest.fixture
def serve():
    """Factory: serve(reply) starts a ScriptedEndpoint; all are stopped at teardown."""
    started: list[ScriptedEndpoint] = []

    def start(reply: Callable = numbered) -> ScriptedEndpoint:
        endpoint = ScriptedEndpoint(reply).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def server(serve) -> ScriptedEndpoint:
    return serve()


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


def client(base_url: str, directory: Path, mode=CacheMode.READWRITE, *, step: str = "s1", model: str = MODEL,
           endpoint: str = "openai-compatible") -> LLMClient:  # fmt: skip
    """A client as one run's process has it: a ledger of its own, inside step ``step``."""
    ledger = UsageLedger()
    ledger.start_step(step)
    return LLMClient(base_url=base_url, model=model, endpoint=endpoint, ledger=ledger,
                     cache=ResponseCache(directory, mode), max_retries=0, timeout_s=5)  # fmt: skip


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("??/*.json")) if directory.is_dir() else []


# -- a second run replays --------------------------------------------------------------------------------------
def test_a_second_identical_call_sends_no_request_and_returns_the_same_message(server, cache_dir):
    first_run = client(server.url(), cache_dir)
    first = first_run.chat(QUESTION, purpose="agent")
    second_run = client(server.url(), cache_dir)
    second = second_run.chat(QUESTION, purpose="agent")

    assert len(server.requests) == 1
    assert second == first == {"role": "assistant", "content": "answer 0"}
    (sent,), (replayed,) = first_run.ledger.calls, second_run.ledger.calls
    assert (sent.from_cache, sent.cache_lookup) == (False, True)  # looked up, missed, sent
    assert (replayed.from_cache, replayed.cache_lookup) == (True, True)
    assert (
        (replayed.prompt_tokens, replayed.completion_tokens) == (sent.prompt_tokens, sent.completion_tokens) == (10, 5)
    )
    assert replayed.purpose == "agent" and replayed.model == MODEL
    assert second_run.cache.counters.to_json() == {"agent": {"hits": 1, "misses": 0, "stores": 0, "refused": 0}}


def test_a_replay_needs_no_endpoint(server, cache_dir):
    url = server.url()
    first = client(url, cache_dir).chat(QUESTION, purpose="agent")
    server.stop()  # nothing listens on the port any more
    assert client(url, cache_dir).chat(QUESTION, purpose="agent") == first


def test_the_reference_model_is_keyed_without_its_port_which_changes_from_run_to_run(cache_dir):
    servers = [ReferenceServer(registry.reference_policies(), registry.memory_operations()).start() for _ in "ab"]
    try:
        first_run, second_run = (
            client(s.base_url, cache_dir, model="reference", endpoint="reference") for s in servers
        )
        assert servers[0].base_url != servers[1].base_url
        first = first_run.chat(QUESTION, purpose="agent")
        assert second_run.chat(QUESTION, purpose="agent") == first
        assert second_run.ledger.calls[0].from_cache
    finally:
        for s in servers:
            s.stop()


# -- what is never stored --------------------------------------------------------------------------------------
class _RawEndpoint(LoopbackServer):
    """Answers the first POST with ``first`` (status, raw bytes, content type), every later one with a chat
    completion; counts the requests. (ScriptedEndpoint writes JSON only; this one can send a body that is not.)"""

    def __init__(self, first: tuple[int, bytes, str]):
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                number, owner.requests = owner.requests, owner.requests + 1
                if number == 0:
                    status, body, kind = first
                else:
                    status, body, kind = 200, json.dumps(completion(f"answer {number}")[1]).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


SERVER_ERROR = json.dumps({"error": {"message": "internal failure", "type": "server_error"}}).encode()


@pytest.mark.parametrize(
    "first",
    [(500, SERVER_ERROR, "application/json"), (200, b"<html>502 Bad Gateway</html>", "application/json"),
     (200, b"not json at all", "text/plain")],
    ids=["http-500", "non-json-body", "non-json-text"],
)  # fmt: skip
def test_a_failed_call_is_never_stored_and_the_rerun_sends_again(cache_dir, first):
    endpoint = _RawEndpoint(first).start()
    try:
        with pytest.raises(LLMError):
            client(endpoint.base_url, cache_dir).chat(QUESTION, purpose="agent")
        assert entries(cache_dir) == []
        rerun = client(endpoint.base_url, cache_dir)  # the same step again: the failure must not be replayed
        assert rerun.chat(QUESTION, purpose="agent")["content"] == "answer 1"
        assert endpoint.requests == 2
        assert not rerun.ledger.calls[0].from_cache
    finally:
        endpoint.stop()


def test_an_answer_carrying_an_error_next_to_its_choices_is_returned_but_not_stored(serve, cache_dir):
    def with_error(request):
        status, body = numbered(request)
        return status, {**body, "error": {"message": "upstream failed half-way"}}

    server = serve(with_error)
    first_run = client(server.url(), cache_dir)
    assert first_run.chat(QUESTION, purpose="agent")["content"] == "answer 0"
    assert client(server.url(), cache_dir).chat(QUESTION, purpose="agent")["content"] == "answer 1"
    assert len(server.requests) == 2 and entries(cache_dir) == []
    assert first_run.cache.counters.get("agent", "refused") == 1


@pytest.mark.parametrize("finish_reason", [None, "content_filter"])
def test_an_incomplete_completion_is_returned_but_not_stored(serve, cache_dir, finish_reason):
    def unfinished(request):
        status, body = numbered(request)
        body["choices"][0]["finish_reason"] = finish_reason
        return status, body

    server = serve(unfinished)
    first_run = client(server.url(), cache_dir)
    assert first_run.chat(QUESTION, purpose="agent")["content"] == "answer 0"
    assert client(server.url(), cache_dir).chat(QUESTION, purpose="agent")["content"] == "answer 1"
    assert len(server.requests) == 2 and entries(cache_dir) == []
    assert first_run.cache.counters.get("agent", "refused") == 1


def test_a_completion_cut_at_max_tokens_is_complete_and_stored(serve, cache_dir):
    def cut(request):
        status, body = numbered(request)
        body["choices"][0]["finish_reason"] = "length"
        return status, body

    server = serve(cut)
    client(server.url(), cache_dir).chat(QUESTION, purpose="agent", max_tokens=3)
    assert client(server.url(), cache_dir).chat(QUESTION, purpose="agent", max_tokens=3)["content"] == "answer 0"
    assert len(server.requests) == 1


# -- modes ---------------------------------------------------------------------------------------------------
def test_read_mode_replays_what_is_stored_and_never_writes(server, cache_dir):
    client(server.url(), cache_dir).chat(QUESTION, purpose="agent")  # stored by a readwrite run
    stored = entries(cache_dir)
    other = [{"role": "user", "content": "And 3+3?"}]

    reading = client(server.url(), cache_dir, CacheMode.READ)
    assert reading.chat(QUESTION, purpose="agent")["content"] == "answer 0"  # replayed
    assert reading.chat(other, purpose="agent")["content"] == "answer 1"  # a miss: sent, not stored
    assert client(server.url(), cache_dir, CacheMode.READ).chat(other, purpose="agent")["content"] == "answer 2"
    assert len(server.requests) == 3
    assert entries(cache_dir) == stored
    assert [(c.from_cache, c.cache_lookup) for c in reading.ledger.calls] == [(True, True), (False, True)]


def test_write_mode_never_reads_but_stores_the_latest_answer(server, cache_dir):
    writing = client(server.url(), cache_dir, CacheMode.WRITE)
    assert writing.chat(QUESTION, purpose="agent")["content"] == "answer 0"
    assert client(server.url(), cache_dir, CacheMode.WRITE).chat(QUESTION, purpose="agent")["content"] == "answer 1"
    assert len(server.requests) == 2
    assert [(c.from_cache, c.cache_lookup) for c in writing.ledger.calls] == [(False, False)]

    replaying = client(server.url(), cache_dir, CacheMode.READWRITE)
    assert replaying.chat(QUESTION, purpose="agent")["content"] == "answer 1"  # the entry the last write left
    assert len(server.requests) == 2 and len(entries(cache_dir)) == 1


def test_mode_off_neither_reads_nor_writes(server, cache_dir):
    for _ in range(2):
        off = client(server.url(), cache_dir, CacheMode.OFF)
        off.chat(QUESTION, purpose="agent")
    assert len(server.requests) == 2 and entries(cache_dir) == []
    assert not off.ledger.calls[0].cache_lookup


# -- repeats and samples per step ------------------------------------------------------------------------------
def test_the_same_request_twice_in_one_step_is_two_entries_replayed_in_order(server, cache_dir):
    first_run = client(server.url(), cache_dir, step="s1")
    assert [first_run.chat(QUESTION, purpose="agent")["content"] for _ in range(2)] == ["answer 0", "answer 1"]
    assert len(entries(cache_dir)) == 2

    rerun = client(server.url(), cache_dir, step="s1")
    assert [rerun.chat(QUESTION, purpose="agent")["content"] for _ in range(2)] == ["answer 0", "answer 1"]
    assert len(server.requests) == 2
    assert rerun.chat(QUESTION, purpose="agent")["content"] == "answer 2"  # a third time: nothing stored yet

    rerun.ledger.start_step("s2")  # a new step starts again at the first repeat
    assert rerun.chat(QUESTION, purpose="agent")["content"] == "answer 0"
    assert len(server.requests) == 3


def test_a_sampled_request_is_kept_per_step_and_a_greedy_one_is_shared(server, cache_dir):
    sampling = client(server.url(), cache_dir, step="s1")
    assert sampling.chat(QUESTION, purpose="agent", temperature=0.7)["content"] == "answer 0"
    sampling.ledger.start_step("s2")
    assert sampling.chat(QUESTION, purpose="agent", temperature=0.7)["content"] == "answer 1"  # a draw of its own
    assert len(server.requests) == 2
    for step, drawn in (("s2", "answer 1"), ("s1", "answer 0")):  # a rerun replays each step's own draw
        assert client(server.url(), cache_dir, step=step).chat(QUESTION, purpose="agent", temperature=0.7) == {
            "role": "assistant", "content": drawn}  # fmt: skip
    assert len(server.requests) == 2

    greedy = client(server.url(), cache_dir, step="s1")
    assert greedy.chat(QUESTION, purpose="agent", temperature=0)["content"] == "answer 2"
    greedy.ledger.start_step("s2")
    assert greedy.chat(QUESTION, purpose="agent", temperature=0)["content"] == "answer 2"  # one entry for both steps
    assert len(server.requests) == 3


# -- what makes a request another one ----------------------------------------------------------------------------
VARIANTS = {
    "nothing": ({}, {}),  # the control: the same request replays
    "model": ({"model": "gpt-4.1-mini"}, {}),
    "tools": ({}, {"tools": TOOLS}),
    "max_tokens": ({}, {"max_tokens": 16}),
    "purpose": ({}, {"purpose": "judge"}),
    "operation": ({}, {"purpose": "memory", "operation": "mem0.extract"}),
    "temperature": ({}, {"temperature": 0.5}),
    "messages": ({}, {"messages": [*QUESTION[:1], {"role": "user", "content": "What is 2+3?"}]}),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_request_that_differs_in_one_part_misses(server, cache_dir, variant):
    client(server.url(), cache_dir).chat(QUESTION, purpose="agent")
    client_changes, call_changes = VARIANTS[variant]
    call = {"messages": QUESTION, "purpose": "agent"} | call_changes
    if call_changes.get("purpose") == "memory":  # the same operation-less memory call first: only the header differs
        client(server.url(), cache_dir).chat(QUESTION, purpose="memory")
    before = len(server.requests)
    changed = client(server.url(), cache_dir, **client_changes)
    changed.chat(call.pop("messages"), **call)
    assert len(server.requests) - before == (0 if variant == "nothing" else 1)
    assert changed.ledger.calls[0].from_cache is (variant == "nothing")


def test_the_same_request_to_another_base_url_misses(serve, cache_dir):
    one, other = serve(), serve()
    client(one.url(), cache_dir).chat(QUESTION, purpose="agent")
    client(other.url(), cache_dir).chat(QUESTION, purpose="agent")
    assert (len(one.requests), len(other.requests)) == (1, 1)


def test_the_password_of_the_url_does_not_change_the_key(serve, cache_dir):
    # the key holds the URL in its redacted form: a rotated password still replays (and is never written)
    server = serve()
    client(server.url("alice:first-Passw0rd"), cache_dir).chat(QUESTION, purpose="agent")
    client(server.url("alice:second-Passw0rd"), cache_dir).chat(QUESTION, purpose="agent")
    assert len(server.requests) == 1
    written = b"".join(path.read_bytes() for path in entries(cache_dir))
    assert b"first-Passw0rd" not in written


# -- a cache that cannot be written --------------------------------------------------------------------------------
def _assert_answers_with_one_warning(server, directory: Path):
    unwritable = client(server.url(), directory)
    with pytest.warns(UserWarning, match="response cache") as caught:
        answers = [unwritable.chat(QUESTION, purpose="agent")["content"] for _ in range(2)]
    assert answers == ["answer 0", "answer 1"]
    assert len([w for w in caught if "response cache" in str(w.message)]) == 1  # once per process, not per call
    assert str(directory) in str(caught[0].message)
    assert len(server.requests) == 2


def test_a_cache_folder_that_cannot_be_created_costs_one_warning_not_the_call(server, tmp_path):
    # works as root too: no permission stops root, a file where the folder should be does
    (tmp_path / "a-file").write_text("not a folder")
    _assert_answers_with_one_warning(server, tmp_path / "a-file" / "cache")


def test_read_mode_on_a_folder_that_cannot_be_written_is_silent(server, tmp_path, recwarn):
    (tmp_path / "a-file").write_text("not a folder")
    reading = client(server.url(), tmp_path / "a-file" / "cache", CacheMode.READ)
    assert reading.chat(QUESTION, purpose="agent")["content"] == "answer 0"
    assert [str(w.message) for w in recwarn] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_cache_folder_costs_one_warning_not_the_call(server, cache_dir):
    cache_dir.mkdir(mode=0o555)
    try:
        _assert_answers_with_one_warning(server, cache_dir)
    finally:
        cache_dir.chmod(0o755)


# -- the provider's own prompt cache ------------------------------------------------------------------------------
def test_the_providers_cached_prompt_tokens_are_recorded_and_replayed(serve, cache_dir):
    def prompt_cached(request):
        status, body = numbered(request)
        body["usage"] = {"prompt_tokens": 2000, "completion_tokens": 40, "total_tokens": 2040,
                         "prompt_tokens_details": {"cached_tokens": 1536}}  # fmt: skip
        return status, body

    server = serve(prompt_cached)
    first_run, second_run = client(server.url(), cache_dir), client(server.url(), cache_dir)
    first_run.chat(QUESTION, purpose="agent")
    second_run.chat(QUESTION, purpose="agent")
    (sent,), (replayed,) = first_run.ledger.calls, second_run.ledger.calls
    assert (sent.prompt_tokens, sent.cached_prompt_tokens, sent.completion_tokens) == (2000, 1536, 40)
    assert (replayed.prompt_tokens, replayed.cached_prompt_tokens, replayed.from_cache) == (2000, 1536, True)


def test_a_usage_without_details_records_no_cached_prompt_tokens(server, cache_dir):
    llm = client(server.url(), cache_dir)
    llm.chat(QUESTION, purpose="agent")
    assert llm.ledger.calls[0].cached_prompt_tokens == 0
