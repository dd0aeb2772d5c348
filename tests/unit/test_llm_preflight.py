"""The preflight of LLM endpoints against real HTTP servers on 127.0.0.1: a dead, unauthorised, rate-limited or
failing endpoint stops the run in seconds with one redacted line naming the role, the URL and the status."""

from __future__ import annotations

import email.utils
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_amb.llm.preflight import PreflightError, PreflightTarget, check, retry_after_s

KEY = "sk-preflight-SECRET-4711"
PASSWORD = "hunter2-pass"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict  # names in lower case
    body: dict


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | str = ""
    headers: tuple[tuple[str, str], ...] = ()


def listing(*ids: str) -> Answer:
    return Answer(200, {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


COMPLETION = Answer(200, {"id": "x", "object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}]})  # fmt: skip


class Scripted:
    """An endpoint answering each (method, path) from its script in order (the last answer repeats); a path with
    no script gets 404. Every request is kept in ``seen``."""

    def __init__(self, script: dict[tuple[str, str], list[Answer]]):
        self.seen: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_GET(self):
                self._answer()

            def do_POST(self):
                self._answer()

            def _answer(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.seen.append(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(raw or "{}"))
                )
                answers = script.get((self.command, self.path)) or [Answer(404, {"error": "not found"})]
                done = sum(1 for s in owner.seen if (s.method, s.path) == (self.command, self.path)) - 1
                answer = answers[min(done, len(answers) - 1)]
                data = (answer.body if isinstance(answer.body, str) else json.dumps(answer.body)).encode()
                self.send_response(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self._httpd.server_address[1]}/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # the preflight must talk to 127.0.0.1 directly, whatever the environment says
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve():
    servers = []

    def start(script: dict[tuple[str, str], list[Answer]]) -> Scripted:
        servers.append(Scripted(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def dead_url():
    """A port bound but not listening: a connection to it is refused at once (held for the test, so no one else
    takes it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


@pytest.fixture
def silent_url():
    """A port that accepts connections (the kernel's backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def target(base_url, *, roles=("agent",), model="gpt-4o", key=KEY, variable="AMB_API_KEY", option="--amb-base-url"):
    return PreflightTarget(roles, base_url, model, key, variable if key else None, option)


def failure(targets, **kwargs) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(PreflightError) as caught:
        check(targets, **kwargs)
    return str(caught.value), time.monotonic() - started


# --------------------------------------------------------------------------------------------------
# reachable endpoints
# --------------------------------------------------------------------------------------------------


def test_a_healthy_model_listing_passes_with_one_authorised_request(serve):
    server = serve({("GET", "/v1/models"): [listing("gpt-4o", "gpt-4o-mini")]})
    assert check([target(server.url())]) == []
    [seen] = server.seen
    assert (seen.method, seen.path) == ("GET", "/v1/models")
    assert seen.headers["authorization"] == f"Bearer {KEY}"


def test_an_endpoint_without_a_model_listing_is_checked_with_a_one_token_chat(serve):
    server = serve({("POST", "/v1/chat/completions"): [COMPLETION]})
    assert check([target(server.url(), key=None)]) == []
    assert [(s.method, s.path) for s in server.seen] == [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    chat = server.seen[1]
    assert chat.body["model"] == "gpt-4o" and chat.body["max_tokens"] == 1
    assert chat.headers["x-amb-purpose"] == "preflight"
    assert "authorization" not in chat.headers  # no key, no header


def test_a_model_the_endpoint_does_not_list_is_a_note_not_a_failure(serve):
    server = serve({("GET", "/v1/models"): [listing("llama-3-8b")]})
    [note] = check([target(server.url(), model="gpt-4o")])
    assert "agent endpoint" in note and "does not list model 'gpt-4o'" in note and "'llama-3-8b'" in note


def test_an_unknown_model_on_the_chat_fallback_is_an_error(serve):
    missing = Answer(404, {"error": {"message": "The model `gpt-9` does not exist.", "code": 404}})
    server = serve({("POST", "/v1/chat/completions"): [missing]})
    message, _ = failure([target(server.url(), model="gpt-9")])
    assert "model 'gpt-9' not found (HTTP 404)" in message and "does not exist" in message


def test_a_base_url_with_neither_models_nor_chat_is_an_error_about_the_url(serve):
    server = serve({})
    message, _ = failure([target(server.url().removesuffix("/v1"), option="--amb-judge-base-url", roles=("judge",))])
    assert "has neither /models nor /chat/completions (HTTP 404)" in message and "--amb-judge-base-url" in message


# --------------------------------------------------------------------------------------------------
# unauthorised
# --------------------------------------------------------------------------------------------------


def test_unauthorised_names_the_key_variable_and_never_the_key(serve):
    echo = Answer(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    server = serve({("GET", "/v1/models"): [echo]})
    judge = target(server.url(), roles=("judge",), variable="AMB_JUDGE_API_KEY", option="--amb-judge-base-url")
    message, _ = failure([judge])
    assert message.startswith(f"preflight: the judge endpoint {server.url()} (model 'gpt-4o') ")
    assert "unauthorised (HTTP 401)" in message and "check the key in $AMB_JUDGE_API_KEY" in message
    assert KEY not in message and "\n" not in message


def test_unauthorised_without_a_key_says_which_variable_to_set(serve):
    server = serve({("GET", "/v1/models"): [Answer(403, {"error": "forbidden"})]})
    message, _ = failure([target(server.url(), roles=("judge",), key=None)])
    assert "unauthorised (HTTP 403)" in message and "no key was set: set $AMB_JUDGE_API_KEY or $AMB_API_KEY" in message


def test_the_urls_user_and_password_are_sent_as_basic_auth_and_never_shown(serve):
    echo = Answer(401, {"error": {"message": f"bad credentials for bob:{PASSWORD}"}})
    server = serve({("GET", "/v1/models"): [echo]})
    message, _ = failure([target(server.url(f"bob:{PASSWORD}"))])
    assert server.seen[0].headers["authorization"].startswith("Basic ")  # as the openai SDK's client sends it
    assert PASSWORD not in message and KEY not in message
    assert f"{server.url('bob:***')} (model 'gpt-4o')" in message
    assert "check the user and password in the URL (--amb-base-url)" in message


# --------------------------------------------------------------------------------------------------
# unreachable, slow, rate limited, failing
# --------------------------------------------------------------------------------------------------


def test_a_port_with_nothing_listening_stops_the_run_at_once(dead_url):
    judge = target(dead_url, roles=("judge",), option="--amb-judge-base-url")
    message, elapsed = failure([judge])
    assert elapsed < 2
    assert message == (f"preflight: the judge endpoint {dead_url} (model 'gpt-4o') cannot be reached: "
                       f"connection refused; check --amb-judge-base-url")  # fmt: skip


def test_a_password_in_a_dead_endpoints_url_is_redacted(dead_url):
    url = dead_url.replace("http://", f"http://bob:{PASSWORD}@")
    message, _ = failure([target(url)])
    assert PASSWORD not in message and "http://bob:***@127.0.0.1:" in message and "connection refused" in message


def test_endpoints_are_checked_at_the_same_time_and_within_the_time_limit(silent_url):
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    try:
        second = f"http://127.0.0.1:{other.getsockname()[1]}/v1"
        targets = [target(silent_url), target(second, roles=("judge",), option="--amb-judge-base-url")]
        message, elapsed = failure(targets, time_limit_s=1.2)
        other.setblocking(False)
        connection, _ = other.accept()  # the judge's endpoint was tried too, not skipped for want of time
        connection.close()
    finally:
        other.close()
    assert elapsed < 2.0  # one after the other, each with its own time, would take 2.4 s
    assert message.startswith(f"preflight: the agent endpoint {silent_url}") and "no answer within" in message


def test_a_hung_name_lookup_is_given_up_on_at_the_time_limit(monkeypatch):
    # A resolver that never answers cannot be set up on loopback, and no socket timeout reaches getaddrinfo: the
    # one mock of this file stands in for it, at the socket boundary.
    release = threading.Event()
    real = socket.getaddrinfo

    def hung(host, *args, **kwargs):
        if host == "hung.example":
            release.wait(10)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    try:
        message, elapsed = failure([target("http://hung.example/v1")], time_limit_s=1)
    finally:
        release.set()
    assert elapsed < 2
    assert message == ("preflight: the agent endpoint http://hung.example/v1 (model 'gpt-4o') gave no answer within "
                       "the preflight's 1 s; check --amb-base-url")  # fmt: skip


def test_rate_limit_waits_for_retry_after_then_passes(serve):
    server = serve({("GET", "/v1/models"): [Answer(429, {"error": "slow down"}, (("Retry-After", "1"),)),
                                            listing("gpt-4o")]})  # fmt: skip
    started = time.monotonic()
    assert check([target(server.url())]) == []
    assert 0.9 <= time.monotonic() - started < 2.5
    assert len(server.seen) == 2


def test_rate_limit_longer_than_the_time_limit_stops_at_once(serve):
    server = serve({("GET", "/v1/models"): [Answer(429, {"error": "slow down"}, (("Retry-After", "30"),))]})
    message, elapsed = failure([target(server.url())], time_limit_s=2)
    assert elapsed < 1
    assert "rate limited (HTTP 429) for 30 s more (Retry-After)" in message and "slow down" in message
    assert len(server.seen) == 1


def test_a_server_error_is_retried_once_then_reported_with_its_status(serve):
    server = serve({("GET", "/v1/models"): [Answer(500, "Internal Server Error: boom")]})
    message, elapsed = failure([target(server.url())])
    assert len(server.seen) == 2 and 0.5 <= elapsed < 2
    assert "answered HTTP 500 twice: Internal Server Error: boom" in message


def test_a_server_error_that_passes_on_the_retry_passes(serve):
    server = serve({("GET", "/v1/models"): [Answer(503, "warming up"), listing("gpt-4o")]})
    assert check([target(server.url())]) == []


def test_a_long_error_body_is_cut_to_200_characters(serve):
    server = serve({("GET", "/v1/models"): [Answer(502, "x" * 1000)]})
    message, _ = failure([target(server.url())])
    assert "x" * 200 + "..." in message and "x" * 201 not in message


def test_a_key_across_the_cut_of_an_error_body_leaves_no_part_of_it(serve):
    server = serve({("GET", "/v1/models"): [Answer(401, "x" * 190 + KEY + " was refused")]})
    message, _ = failure([target(server.url())])
    assert "x" * 190 + "***" in message and KEY[:6] not in message


def test_retry_after_in_milliseconds_and_as_an_http_date():
    now = time.time()
    assert retry_after_s({"retry-after-ms": "1500"}, now) == 1.5
    assert retry_after_s({"retry-after": "2"}, now) == 2.0
    in_ten = email.utils.formatdate(now + 10, usegmt=True)
    assert 8.5 <= retry_after_s({"retry-after": in_ten}, now) <= 10
    assert retry_after_s({"retry-after": "soon"}, now) is None
    assert retry_after_s({}, now) is None


# --------------------------------------------------------------------------------------------------
# shared endpoints
# --------------------------------------------------------------------------------------------------


def test_roles_sharing_an_endpoint_are_checked_once_and_named_together(serve, dead_url):
    server = serve({("GET", "/v1/models"): [listing("gpt-4o")]})
    shared = [target(server.url()), target(server.url(), roles=("memory",), model="gpt-4o-mini")]
    [note] = check(shared)
    assert len(server.seen) == 1
    assert "the agent and memory endpoint" in note and "(models 'gpt-4o' and 'gpt-4o-mini')" in note
    assert "does not list model 'gpt-4o-mini'" in note

    dead = [target(dead_url), target(dead_url, roles=("memory",), option="--amb-memory-base-url")]
    message, _ = failure(dead)
    assert message.startswith(f"preflight: the agent and memory endpoint {dead_url} (model 'gpt-4o') cannot")
    assert "check --amb-base-url or --amb-memory-base-url" in message


def test_the_same_url_with_another_key_is_checked_on_its_own(serve):
    server = serve({("GET", "/v1/models"): [listing("gpt-4o")]})
    assert check([target(server.url()), target(server.url(), roles=("judge",), key="sk-judge-OTHER-99")]) == []
    assert sorted(s.headers["authorization"] for s in server.seen) == sorted([f"Bearer {KEY}", "Bearer sk-judge-OTHER-99"])
