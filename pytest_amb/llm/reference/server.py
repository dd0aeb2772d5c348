"""The reference model: deterministic, LLM-free policies behind a real OpenAI-compatible HTTP server.

It listens on loopback only and implements ``POST /v1/chat/completions`` and ``GET /v1/models``. The
reply is computed from the request body alone. A request with an ``X-AMB-Operation`` header is a
memory's own call: it gets that operation's answer (``Memory.reference_operations``). Any other request
gets the answer of the first policy that claims it (``TaskFamily.reference``, in registration order), or
a plain assistant message saying no policy claims it (a wrong answer, not a crash). It never sees gold
answers except inside a judge prompt, exactly as a real judge model would.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pytest_amb.llm.reference.policy import ReferencePolicy
from pytest_amb.llm.reference.text import content_text

MODEL_NAME = "reference"
NO_POLICY = "The reference model has no policy that claims this request (its policies: {names})."
_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def respond(
    request: dict,
    operation: str,
    policies: Sequence[ReferencePolicy],
    operations: Mapping[str, Callable[[list[dict]], str]],
) -> dict:
    """The assistant message for one chat-completions request body (``operation``: the request's
    X-AMB-Operation header, set by memories on their own calls)."""
    messages = request.get("messages") or []
    if operation:
        answer = operations.get(operation)
        if answer is None:
            error = f"the reference model has no answer for memory operation '{operation}'"
            return {"role": "assistant", "content": json.dumps({"error": error})}
        return {"role": "assistant", "content": answer(messages)}
    for policy in policies:
        if policy.claims(request):
            return policy.respond(request)
    names = ", ".join(policy.name for policy in policies) or "none"
    return {"role": "assistant", "content": NO_POLICY.format(names=names)}


def completion(request: dict, operation: str, policies, operations) -> dict:
    message = respond(request, operation, policies, operations)
    prompt = sum(count_tokens(content_text(m.get("content"))) for m in request.get("messages") or [])
    produced = count_tokens(str(message.get("content") or "") + json.dumps(message.get("tool_calls") or []))
    return {
        "id": "chatcmpl-reference",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model") or MODEL_NAME,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": produced, "total_tokens": prompt + produced},
    }


class _Handler(BaseHTTPRequestHandler):
    server_version = "pytest-amb-reference/1"
    protocol_version = "HTTP/1.1"  # keep-alive: a step's calls reuse one connection (every answer has a length)
    disable_nagle_algorithm = True  # headers and body leave at once: on a kept-alive connection Nagle's algorithm
    # and the client's delayed ACK would hold the body back about 40 ms

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except (ValueError, json.JSONDecodeError) as exc:
            self._send(400, {"error": {"message": f"invalid JSON body: {exc}"}})
            return
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            self._send(400, {"error": {"message": "the body must be an object with a 'messages' list"}})
            return
        arrived = time.monotonic()
        operation = self.headers.get("X-AMB-Operation") or ""
        body = completion(request, operation, self.server.policies, self.server.operations)
        if self.server.latency_s:  # the answer leaves latency_s after the request arrived, however long it took
            time.sleep(max(0.0, arrived + self.server.latency_s - time.monotonic()))
        self._send(200, body)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="amb-loopback-http", daemon=True
        )  # polls for shutdown every 50 ms (the default 0.5 s is waited out at the end of every run)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class ReferenceServer(LoopbackServer):
    """Serves the reference model with these task policies and memory operations; with ``latency_s`` every
    completion is answered that long after its request arrived (a fixed-latency server, for throughput
    benchmarks), or as soon as it is computed when that takes longer."""

    def __init__(
        self,
        policies: Sequence[ReferencePolicy],
        operations: Mapping[str, Callable[[list[dict]], str]],
        latency_s: float = 0.0,
    ):
        super().__init__(_Handler)
        self._httpd.policies = tuple(policies)
        self._httpd.operations = dict(operations)
        self._httpd.latency_s = latency_s
