"""The LLM client's HTTP (transport.py) against loopback servers: the server's Retry-After decides the pause, an
answer that is not a chat completion is one clear error, a refused connection is an endpoint failure (retried and
counted by the breaker), and credentials travel as the endpoint expects them."""

import json
import socket
from http.server import BaseHTTPRequestHandler

import pytest

from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger, _pause
from pytest_amb.llm.reference.server import LoopbackServer
from pytest_amb.llm.transport import HTTPStatusFailure, NoConnection, Transport

COMPLETION = {"choices": [{"message": {"role": "assistant", "content": "ok"}}], "usage": {"prompt_tokens": 3}}


class _Scripted(LoopbackServer):
    """Answers each POST with the next (status, headers, body) of its script, the last one from then on."""

    def __init__(self, script: list[tuple[int, dict, bytes]]):
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers, payload = script[min(len(owner.requests), len(script)) - 1]
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler)


@pytest.fixture
def scripted():
    servers = []

    def start(*script):
        server = _Scripted(list(script)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _client(url: str, **limits) -> LLMClient:
    return LLMClient(base_url=url, model="m", endpoint="openai-compatible", ledger=UsageLedger(), **limits)


def test_a_rate_limit_waits_for_the_servers_retry_after_and_then_answers(scripted):
    server = scripted(
        (429, {"Retry-After-Ms": "50"}, b'{"error": "slow down"}'), (200, {}, json.dumps(COMPLETION).encode())
    )
    assert (
        _client(server.base_url, max_retries=2).chat([{"role": "user", "content": "hi"}], purpose="agent")["content"]
        == "ok"
    )
    assert len(server.requests) == 2 and server.requests[0]["path"] == "/v1/chat/completions"
    assert _pause(HTTPStatusFailure(429, {"retry-after": "2"}, ""), 0) == 2.0
    assert _pause(HTTPStatusFailure(503, {"retry-after-ms": "1500"}, ""), 0) == 1.5
    assert 0.375 <= _pause(HTTPStatusFailure(503, {"retry-after": "600"}, ""), 0) <= 0.5  # over 60 s: backoff instead


@pytest.mark.parametrize(("body", "said"), [(b"<html>busy</html>", "not a chat completion"),
                                            (b"[1, 2]", "not a chat completion: a JSON list"),
                                            (b'{"choices": []}', "not a chat completion")])  # fmt: skip
def test_an_answer_that_is_no_chat_completion_is_one_clear_error(scripted, body, said):
    server = scripted((200, {}, body))
    with pytest.raises(LLMError, match=said) as caught:
        _client(server.base_url).chat([{"role": "user", "content": "hi"}], purpose="judge")
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
    server = scripted((200, {}, json.dumps(COMPLETION).encode()))
    _client(server.base_url, api_key="sk-test").chat([{"role": "user", "content": "hi"}], purpose="agent")
    with_password = server.base_url.replace("http://", "http://user:pa%40ss@")
    _client(with_password, api_key="sk-test").chat([{"role": "user", "content": "hi"}], purpose="agent")
    first, second = (request["headers"] for request in server.requests)
    assert first["Authorization"] == "Bearer sk-test" and first["X-AMB-Purpose"] == "agent"
    assert second["Authorization"] == "Basic dXNlcjpwYUBzcw=="  # user:pa@ss
    assert json.loads(server.requests[0]["body"])["messages"] == [{"role": "user", "content": "hi"}]
