"""The LLM client's HTTP (transport.py) against loopback servers: the server's Retry-After decides the pause, an
answer that is not a chat completion is one clear error, a refused connection is an endpoint failure (retried and
counted by the breaker), and credentials travel as the endpoint expects them."""

import socket

import pytest

from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger, _pause
from pytest_amb.llm.transport import HTTPStatusFailure, NoConnection, Transport
from tests.support.scripted_endpoint import ScriptedEndpoint, completion


@pytest.fixture
def scripted():
    """Factory: scripted(answer, ...) answers the n-th request with the n-th answer, the last one from then on."""
    servers = []

    def start(*script):
        server = ScriptedEndpoint(lambda request: script[min(request.number, len(script) - 1)]).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _client(url: str, **limits) -> LLMClient:
    return LLMClient(base_url=url, model="m", endpoint="openai-compatible", ledger=UsageLedger(), **limits)


def test_a_rate_limit_waits_for_the_servers_retry_after_and_then_answers(scripted):
    server = scripted((429, {"error": "slow down"}, {"Retry-After-Ms": "50"}), completion("ok"))
    answer = _client(server.url(), max_retries=2).chat([{"role": "user", "content": "hi"}], purpose="agent")
    assert answer["content"] == "ok"
    assert len(server.requests) == 2 and server.requests[0].path == "/v1/chat/completions"
    assert _pause(HTTPStatusFailure(429, {"retry-after": "2"}, ""), 0) == 2.0
    assert _pause(HTTPStatusFailure(503, {"retry-after-ms": "1500"}, ""), 0) == 1.5
    assert 0.375 <= _pause(HTTPStatusFailure(503, {"retry-after": "600"}, ""), 0) <= 0.5  # over 60 s: backoff instead


@pytest.mark.parametrize(("body", "said"), [(b"<html>busy</html>", "not a chat completion"),
                                            (b"[1, 2]", "not a chat completion: a JSON list"),
                                            (b'{"choices": []}', "not a chat completion")])  # fmt: skip
def test_an_answer_that_is_no_chat_completion_is_one_clear_error(scripted, body, said):
    server = scripted((200, body))
    with pytest.raises(LLMError, match=said) as caught:
        _client(server.url()).chat([{"role": "user", "content": "hi"}], purpose="judge")
    assert "judge call to openai-compatible" in str(caught.value) and len(server.requests) == 1  # never retried


def test_a_refused_connection_is_an_endpoint_failure_retried_within_the_deadline():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = Transport(f"http://127.0.0.1:{port}/v1", None)
    with pytest.raises(NoConnection):
        transport.post_json("chat/completions", {}, {}, 1.0, 1.0)
    client = _client(f"http://127.0.0.1:{port}/v1", max_retries=1, deadline_s=5)
    with pytest.raises(LLMError, match="agent call .* failed: NoConnection"):
        client.chat([{"role": "user", "content": "hi"}], purpose="agent")
    assert client.breaker.open_reason(client.base_url) is None  # one failed call: not open yet (3 in a row)


def test_the_key_is_a_bearer_token_and_a_password_in_the_url_takes_its_place(scripted):
    server = scripted(completion("ok"))
    _client(server.url(), api_key="sk-test").chat([{"role": "user", "content": "hi"}], purpose="agent")
    with_password = server.url("user:pa%40ss")
    _client(with_password, api_key="sk-test").chat([{"role": "user", "content": "hi"}], purpose="agent")
    first, second = (request.headers for request in server.requests)
    assert first["authorization"] == "Bearer sk-test" and first["x-amb-purpose"] == "agent"
    assert second["authorization"] == "Basic dXNlcjpwYUBzcw=="  # user:pa@ss
    assert server.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]
