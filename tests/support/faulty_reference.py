"""The reference model behind an OpenAI-compatible endpoint on 127.0.0.1 that can be told to fail: an outage
(HTTP 500, after the client's retries), or junk (HTTP 200 whose content is no JSON), for every call or only
for some. Runs use it as a real endpoint (``--amb-model=faulty --amb-base-url=<url>``), so an uninterrupted run
against it and a run with an outage differ only in the outage.

``FaultSwitch`` is a pytest plugin (for ``pytester.runpytest(..., plugins=[switch])``) that turns the outage on
while the steps at the given positions of the streams it names run."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from pytest_amb import registry
from pytest_amb.llm.reference.server import LoopbackServer, completion

OUTAGE, JUNK = "outage", "junk"


class FaultyReference(LoopbackServer):
    """``fault``: None (healthy), or (kind, applies) with ``applies(operation) -> bool`` (the request's
    X-AMB-Operation header, "" for agent and judge calls). Counts the calls it failed and answered, and keeps
    every completion request's purpose; lists no model (``GET /models``)."""

    def __init__(self):
        owner = self
        self.fault = None
        self.failed = 0
        self.answered = 0
        self.purposes: list[str] = []  # the X-AMB-Purpose of every completion request, failed or answered
        policies, operations = tuple(registry.reference_policies()), dict(registry.memory_operations())

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # the model listing (what the preflight asks for)
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": []})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                operation = self.headers.get("X-AMB-Operation") or ""
                owner.purposes.append(self.headers.get("X-AMB-Purpose") or "")
                fault = owner.fault
                if fault is not None and fault[1](operation):
                    owner.failed += 1
                    if fault[0] == OUTAGE:  # retried by the client, quickly (retry-after-ms)
                        self._send(500, {"error": {"message": "internal server error"}}, {"retry-after-ms": "5"})
                        return
                    body = completion(request, operation, policies, operations)
                    body["choices"][0]["message"] = {"role": "assistant", "content": "<html>502 Bad Gateway</html>"}
                    self._send(200, body)
                    return
                owner.answered += 1
                self._send(200, completion(request, operation, policies, operations))

        super().__init__(Handler)


def every_call(_operation: str) -> bool:
    return True


class FaultSwitch:
    """Turns ``server.fault`` on while a step whose id contains one of ``markers`` runs, off otherwise."""

    def __init__(self, server: FaultyReference, markers, kind: str = OUTAGE, applies=every_call):
        self.server, self.markers, self.kind, self.applies = server, tuple(markers), kind, applies

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):  # the step runs in its fixture's setup
        hit = any(marker in item.nodeid for marker in self.markers)
        self.server.fault = (self.kind, self.applies) if hit else None

    def pytest_runtest_teardown(self, item):
        self.server.fault = None
