"""The LLM client against the reference model over real HTTP on 127.0.0.1, and its failure paths."""

from __future__ import annotations

import http.client
import json
import socket
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest

from pytest_amb import registry
from pytest_amb.llm.client import CallRecord, LLMClient, LLMError, UsageLedger
from pytest_amb.llm.reference.server import LoopbackServer, ReferenceServer
from pytest_amb.memory import MEMORY_SEPARATOR, inject
from taskcases.locomo.judge import LLMJudge, judge_prompt, parse_label
from taskcases.locomo.task import SYSTEM_PROMPT

SECRET = "sk-test-SECRET-123"

CONVERSATION = "\n".join(  # noqa: FLY002
    [
        "[Session 1 — 1:56 pm on 8 May, 2023]",
        "Caroline: I went to a support group yesterday.",
        "Melanie: I painted a sunrise over the lake last weekend.",
        "Caroline: My favourite book is Becoming Nicole.",
    ]
)


# --------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # the client must talk to 127.0.0.1 directly, whatever the environment says
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def reference_server():
    server = ReferenceServer(registry.reference_policies(), registry.memory_operations()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ledger():
    return UsageLedger()


@pytest.fixture
def client(reference_server, ledger):
    return LLMClient(base_url=reference_server.base_url, model="reference", endpoint="reference", ledger=ledger)


class _CannedServer(LoopbackServer):
    """A loopback chat-completions endpoint that answers every POST with one canned status and body,
    and records each request (path, headers, body)."""

    def __init__(self, status: int, body: bytes):
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_POST(self):
                request_body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": request_body})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)


@pytest.fixture
def canned_server():
    """Factory: canned_server(status, body) starts a _CannedServer; all are stopped at teardown."""
    started: list[_CannedServer] = []

    def make(status: int, body: bytes) -> _CannedServer:
        server = _CannedServer(status, body).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def failing_server(canned_server):
    """Always HTTP 500 with an OpenAI-style error body."""
    return canned_server(500, json.dumps({"error": {"message": "internal failure", "type": "server_error"}}).encode())


@pytest.fixture
def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the with-block ends: nothing listens there


def qa_messages(context: str, question: str) -> list[dict]:
    """A LoCoMo request with memory in front of the question, as pytest_amb.memory.inject builds it."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{context}\n\n{MEMORY_SEPARATOR}\n\n{question}"},
    ]


def ask(client: LLMClient, context: str, question: str) -> str:
    return client.chat(qa_messages(context, question), purpose="agent")["content"]


# --------------------------------------------------------------------------------------------------
# question answering
# --------------------------------------------------------------------------------------------------


def test_temporal_question_resolves_the_relative_date_against_the_session_date(client):
    # "yesterday" in a session dated 8 May 2023 -> 7 May 2023
    assert ask(client, CONVERSATION, "When did Caroline go to the support group?") == "7 May 2023"


def test_reply_is_an_assistant_message(client):
    message = client.chat(qa_messages(CONVERSATION, "When did Caroline go to the support group?"), purpose="agent")
    assert message["role"] == "assistant"
    assert isinstance(message["content"], str)


@pytest.mark.parametrize("placement", ["front", "tail"])
def test_answers_with_memory_injected_either_way(client, placement):
    messages = inject(
        [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "When did Caroline go to the support group?"},
        ],
        CONVERSATION,
        placement,
    )
    assert client.chat(messages, purpose="agent")["content"] == "7 May 2023"


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # the best line is Melanie's painting line; the question's own words are left out
        ("What did Melanie paint?", "sunrise over the lake last weekend"),
        ("What is Caroline's favourite book?", "Becoming Nicole"),
    ],
)
def test_non_temporal_question_extracts_words_from_the_best_matching_line(client, question, expected):
    assert ask(client, CONVERSATION, question) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Melanie: My dog's name is Rex.", "Melanie: My dog's name is Bolt."], "Bolt"),
        (["Melanie: My dog's name is Bolt.", "Melanie: My dog's name is Rex."], "Rex"),
        (
            [
                "[Session 1 — 1:56 pm on 8 May, 2023]",
                "Melanie: My dog's name is Rex.",
                "[Session 2 — 1:14 pm on 25 May, 2023]",
                "Melanie: My dog's name is Bolt.",
            ],
            "Bolt",
        ),
    ],
)
def test_the_later_of_two_conflicting_facts_wins(client, lines, expected):
    assert ask(client, "\n".join(lines), "What is the name of Melanie's dog?") == expected


@pytest.mark.parametrize(
    "messages",
    [
        [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "What is the name of Melanie's dog?"},
        ],
        qa_messages("", "What is the name of Melanie's dog?"),
        # context that has nothing to do with the question
        qa_messages("Caroline: The weather is nice.", "What is the name of Melanie's dog?"),
    ],
    ids=["no-memory", "empty-memory", "unrelated-memory"],
)
def test_without_relevant_context_the_answer_is_i_dont_know(client, messages):
    assert client.chat(messages, purpose="agent")["content"] == "I don't know."


# --------------------------------------------------------------------------------------------------
# judging
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "generated", "label"),
    [
        ("7 May 2023", "7 May 2023", "CORRECT"),
        ("7 May 2023", "She went on 7 May 2023, the day before the session.", "CORRECT"),
        ("Becoming Nicole", "the book Becoming Nicole", "CORRECT"),
        ("7 May 2023", "I don't know.", "WRONG"),
        ("Becoming Nicole", "Charlotte's Web", "WRONG"),
    ],
)
def test_judge_prompt_gets_a_parseable_label_by_coverage(client, gold, generated, label):
    prompt = judge_prompt("When did Caroline go to the support group?", gold, generated)
    reply = client.chat([{"role": "user", "content": prompt}], purpose="judge")["content"]
    assert parse_label(reply) == label


def test_llm_judge_end_to_end_over_http(client, ledger):
    verdict = LLMJudge(client)("When did Caroline go to the support group?", "7 May 2023", "7 May 2023")
    assert (verdict.score, verdict.label) == (1.0, "CORRECT")
    assert [call.purpose for call in ledger.calls] == ["judge"]


# --------------------------------------------------------------------------------------------------
# determinism and accounting
# --------------------------------------------------------------------------------------------------


def _post_raw(base_url: str, body: dict) -> bytes:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(
            "POST", f"{url.path}/chat/completions", body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "messages",
    [
        qa_messages(CONVERSATION, "When did Caroline go to the support group?"),
        [{"role": "user", "content": judge_prompt("q?", "7 May 2023", "7 May 2023")}],
    ],
    ids=["qa", "judge"],
)
def test_the_same_request_twice_gives_byte_identical_replies(reference_server, client, messages):
    body = {"model": "reference", "messages": messages, "temperature": 0}
    assert _post_raw(reference_server.base_url, body) == _post_raw(reference_server.base_url, body)
    assert client.chat(messages, purpose="agent") == client.chat(messages, purpose="agent")


def test_ledger_records_one_call_record_per_call(client, ledger):
    client.chat(qa_messages(CONVERSATION, "When did Caroline go to the support group?"), purpose="agent")
    client.chat([{"role": "user", "content": judge_prompt("q?", "g", "g")}], purpose="judge")
    client.chat(qa_messages(CONVERSATION, "What did Melanie paint?"), purpose="memory")

    calls = ledger.drain()
    assert [call.purpose for call in calls] == ["agent", "judge", "memory"]
    for call in calls:
        assert isinstance(call, CallRecord)
        assert call.model == "reference"
        assert call.endpoint == "reference"
        assert call.prompt_tokens > 0
        assert call.completion_tokens > 0
        assert call.latency_s > 0
        assert set(call.to_json()) == {
            "purpose",
            "operation",
            "model",
            "endpoint",
            "prompt_tokens",
            "completion_tokens",
            "latency_s",
            "cached_prompt_tokens",
            "from_cache",
            "cache_lookup",
        }
        assert not call.from_cache and not call.cache_lookup  # no response cache given to this client
    assert ledger.calls == []  # drained


def test_longer_prompt_counts_more_prompt_tokens(client, ledger):
    client.chat(qa_messages("Caroline: hi.", "What did Melanie paint?"), purpose="agent")
    client.chat(qa_messages(CONVERSATION, "What did Melanie paint?"), purpose="agent")
    short, long = ledger.drain()
    assert long.prompt_tokens > short.prompt_tokens


@pytest.mark.parametrize("purpose", ["", "Agent", "judging", "embedding"])
def test_unknown_purpose_raises_value_error_and_records_nothing(client, ledger, purpose):
    with pytest.raises(ValueError, match="purpose"):
        client.chat(qa_messages(CONVERSATION, "What did Melanie paint?"), purpose=purpose)
    assert ledger.calls == []


def test_purpose_is_sent_as_a_header(failing_server):
    llm = LLMClient(base_url=failing_server.base_url, model="m", endpoint="openai-compatible",
                    ledger=UsageLedger(), max_retries=0, timeout_s=5)  # fmt: skip
    with pytest.raises(LLMError):
        llm.chat([{"role": "user", "content": "hi"}], purpose="memory")
    assert failing_server.requests[0]["path"] == "/v1/chat/completions"
    headers = {k.lower(): v for k, v in failing_server.requests[0]["headers"].items()}
    assert headers["x-amb-purpose"] == "memory"


# --------------------------------------------------------------------------------------------------
# failure paths
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["agent", "judge", "memory"])
def test_unreachable_endpoint_raises_llm_error_naming_the_purpose(closed_port, purpose):
    ledger = UsageLedger()
    llm = LLMClient(base_url=f"http://127.0.0.1:{closed_port}/v1", model="m", endpoint="openai-compatible",
                    ledger=ledger, max_retries=0, timeout_s=2)  # fmt: skip
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}], purpose=purpose)
    assert str(caught.value).startswith(f"{purpose} call")
    assert ledger.calls == []


def test_http_500_raises_llm_error_after_bounded_retries(failing_server):
    llm = LLMClient(base_url=failing_server.base_url, model="m", endpoint="openai-compatible",
                    ledger=UsageLedger(), max_retries=1, timeout_s=5)  # fmt: skip
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}], purpose="judge")
    assert len(failing_server.requests) == 2  # the first try and exactly one retry
    message = str(caught.value)
    assert "judge" in message
    assert "HTTP 500" in message


def test_api_key_never_appears_in_the_llm_error(failing_server):
    llm = LLMClient(base_url=failing_server.base_url, model="m", endpoint="openai-compatible",
                    ledger=UsageLedger(), api_key=SECRET, max_retries=0, timeout_s=5)  # fmt: skip
    with pytest.raises(LLMError) as caught:
        llm.chat([{"role": "user", "content": "hi"}], purpose="agent")
    # the key really was sent, so its absence from the message is meaningful
    headers = {k.lower(): v for k, v in failing_server.requests[0]["headers"].items()}
    assert headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert all(SECRET not in str(arg) for arg in caught.value.args)


@pytest.mark.parametrize(
    "body",
    [b"not json at all", json.dumps({"choices": [{"index": 0}]}).encode()],
    ids=["non-json-body", "choice-without-message"],
)
def test_a_reply_that_is_not_a_chat_completion_raises_llm_error(canned_server, body):
    server = canned_server(200, body)
    llm = LLMClient(base_url=server.base_url, model="m", endpoint="openai-compatible",
                    ledger=UsageLedger(), max_retries=0, timeout_s=5)  # fmt: skip
    with pytest.raises(LLMError, match="agent"):
        llm.chat([{"role": "user", "content": "hi"}], purpose="agent")


def test_a_reply_without_choices_raises_llm_error(canned_server):
    server = canned_server(200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode())
    llm = LLMClient(base_url=server.base_url, model="m", endpoint="openai-compatible",
                    ledger=UsageLedger(), max_retries=0, timeout_s=5)  # fmt: skip
    with pytest.raises(LLMError, match="not a chat completion"):
        llm.chat([{"role": "user", "content": "hi"}], purpose="agent")


def test_judge_prompt_as_content_parts_is_judged(client):
    prompt = judge_prompt("When did Caroline go to the support group?", "7 May 2023", "7 May 2023")
    reply = client.chat([{"role": "user", "content": [{"type": "text", "text": prompt}]}], purpose="judge")
    assert parse_label(reply["content"]) == "CORRECT"


def test_with_a_latency_every_answer_leaves_that_long_after_its_request_arrived():
    """--amb-reference-latency makes a fixed-latency server (issue 17's yardstick): the time the policy takes to
    compute an answer is inside the latency, not added to it."""
    import time

    slow_policy_s, latency_s = 0.15, 0.25

    def slow(messages):
        time.sleep(slow_policy_s)
        return "done"

    server = ReferenceServer([], {"test.slow": slow}, latency_s=latency_s).start()
    try:
        client = LLMClient(base_url=server.base_url, model="reference", endpoint="reference", ledger=UsageLedger())
        for operation in ("test.slow", ""):  # a slow operation, and an instant answer
            started = time.monotonic()
            client.chat([{"role": "user", "content": "hi"}], purpose="memory", operation=operation)
            assert latency_s <= time.monotonic() - started < latency_s + 0.1
    finally:
        server.stop()
