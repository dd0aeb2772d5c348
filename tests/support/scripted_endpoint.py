"""A scripted OpenAI-compatible chat endpoint on 127.0.0.1 for fault tests: each request is answered by a
function of the request (a status, a body: JSON, or bytes sent as they are, and optionally response headers), or
never answered at all (``HANG``: the connection is accepted and left open until the server stops)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass(frozen=True)
class Request:
    number: int  # 0, 1, 2, ... in arrival order
    path: str
    headers: dict  # names in lower case
    body: dict


def completion(content: str) -> tuple[int, dict]:
    return 200, {
        "id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip


class ScriptedEndpoint:
    """``reply(request) -> (status, body) | (status, body, headers) | HANG``. Every request is kept in ``requests``."""

    def __init__(self, reply: Callable[[Request], tuple | str]):
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    request = Request(
                        len(owner.requests),
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        json.loads(raw or b"{}"),
                    )
                    owner.requests.append(request)
                answer = reply(request)
                if answer == HANG:
                    owner._stopping.wait(600)
                    self.close_connection = True
                    return
                status, body, headers = answer if len(answer) == 3 else (*answer, {})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-endpoint", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
