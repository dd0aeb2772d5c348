"""Fail fast on a dead endpoint (issue 14, item 8): a per-call deadline and a circuit breaker in the LLM
client. An endpoint that accepts connections and never answers costs N × the deadline per process, then
every remaining call fails at once as an infrastructure ERROR naming the (redacted) URL; never a wrong
answer. The retries on 429/5xx still happen within the deadline."""

import time

import pytest

from pytest_amb.journal import read_steps
from pytest_amb.llm.breaker import CircuitBreaker
from pytest_amb.llm.client import LLMClient, LLMError, UsageLedger
from tests.support.scripted_endpoint import HANG, ScriptedEndpoint, completion

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
def endpoint():
    """Factory: endpoint(reply) starts a ScriptedEndpoint; all are stopped at teardown."""
    started = []

    def make(reply):
        server = ScriptedEndpoint(reply).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _client(url, **kwargs):
    kwargs = {"max_retries": 3, **kwargs}
    return LLMClient(base_url=url, model="m", endpoint="openai-compatible", ledger=UsageLedger(), **kwargs)


def test_a_call_to_a_hanging_endpoint_ends_at_its_deadline(endpoint):
    server = endpoint(lambda request: HANG)
    client = _client(server.url(), deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"agent call .* no answer within the deadline of 1 s"):
        client.chat(HELLO, purpose="agent")
    assert 0.9 < time.monotonic() - started < 3.0


def test_after_n_failed_calls_the_breaker_fails_the_rest_at_once_naming_the_redacted_url(endpoint):
    server = endpoint(lambda request: HANG)
    breaker = CircuitBreaker(failures=2)
    url = server.url("someone:Hang-Passw0rd-1")
    agent, judge = (_client(url, deadline_s=0.5, breaker=breaker) for _ in range(2))
    for client in (agent, judge):  # two clients of one endpoint share its count
        with pytest.raises(LLMError, match="deadline"):
            client.chat(HELLO, purpose="agent")
    requests = len(server.requests)
    started = time.monotonic()
    with pytest.raises(LLMError) as caught:
        judge.chat(HELLO, purpose="judge")
    assert time.monotonic() - started < 0.1 and len(server.requests) == requests  # nothing sent
    message = str(caught.value)
    assert message.startswith("judge call") and "circuit breaker" in message and "2 calls in a row" in message
    assert server.url("someone:***") in message and "Hang-Passw0rd-1" not in message


def test_a_success_resets_the_count(endpoint):
    replies = iter([HANG, completion("fine"), HANG, completion("fine")])
    server = endpoint(lambda request: next(replies))
    client = _client(server.url(), deadline_s=0.5, breaker=CircuitBreaker(failures=2), max_retries=0)
    for expected in ("deadline", "fine", "deadline", "fine"):
        try:
            assert client.chat(HELLO, purpose="agent")["content"] == expected
        except LLMError as exc:
            assert expected in str(exc)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_still_retried_within_the_deadline(endpoint, status):
    server = endpoint(
        lambda request: (status, {"error": {"message": "busy"}}) if request.number < 2 else completion("ok")
    )
    client = _client(server.url())
    assert client.chat(HELLO, purpose="agent")["content"] == "ok"
    assert len(server.requests) == 3


def test_retries_stop_at_the_deadline(endpoint):
    server = endpoint(lambda request: (503, {"error": {"message": "busy"}}))
    client = _client(server.url(), deadline_s=1.2, max_retries=10)
    started = time.monotonic()
    with pytest.raises(LLMError, match="HTTP 503"):
        client.chat(HELLO, purpose="agent")
    assert time.monotonic() - started < 1.3 and 2 <= len(server.requests) < 10


def test_a_dead_endpoint_costs_seconds_per_stream_and_every_affected_step_is_an_error(pytester, endpoint):
    server = endpoint(lambda request: HANG)
    started = time.monotonic()
    result = pytester.runpytest(
        "--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--amb-memory=stream_icl", "--amb-limit=8", "--amb-model=silent",
        f"--amb-base-url={server.url('someone:Hang-Passw0rd-1')}", f"--amb-run-dir={pytester.path / 'runs'}",
        "--amb-llm-deadline=1", "--amb-llm-breaker=2",
        "--amb-preflight=false",  # an endpoint that dies during the run: the preflight would stop it at the start
    )  # fmt: skip
    elapsed = time.monotonic() - started
    (run,) = (pytester.path / "runs").iterdir()
    steps = read_steps(run)
    questions = [s for s in steps if s["step"]["kind"] == "sample"]
    assert len(questions) == 12
    assert all(s["status"] == "error" and s["error"]["kind"] == "infrastructure" for s in questions)
    messages = [s["error"]["message"] for s in questions]
    assert sum("failed: no answer within the deadline of 1 s" in m for m in messages) == 2  # two calls, then...
    assert all("circuit breaker" in m and server.url("someone:***") in m for m in messages[2:])  # ...for the rest
    assert "Hang-Passw0rd-1" not in (run / "steps.jsonl").read_text() + "\n".join(result.outlines)
    assert len(server.requests) == 2  # the calls after the breaker opened sent nothing
    per_stream = {}
    for s in questions:
        per_stream[s["step"]["stream"]] = per_stream.get(s["step"]["stream"], 0.0) + s["wall_s"]
    print(f"seconds to give up on the dead endpoint, per stream: {per_stream} (the whole run: {elapsed:.1f} s)")
    # the first two calls wait out the deadline; every later step costs only its memory retrieval (under a
    # second even on a loaded machine), where it used to wait 4 × 120 s per call
    assert all(seconds < 2 * 1.0 + 1.0 * 6 for seconds in per_stream.values())
    assert result.ret == 1


@pytest.mark.parametrize(
    ("option", "accepted"),
    [
        ("--amb-llm-deadline=0", "give finite seconds > 0"),
        ("--amb-llm-deadline=nan", "give finite seconds > 0"),
        ("--amb-llm-deadline=soon", "give seconds > 0"),
        ("--amb-llm-breaker=-1", "give a whole number of failed calls (0 = never)"),
    ],
)
def test_a_bad_deadline_or_breaker_is_a_usage_error(pytester, option, accepted):
    result = pytester.runpytest("--pyargs", "taskcases.locomo.test_locomo", "-p", "no:cacheprovider", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option.split('=')[0]}*{accepted}*"])
