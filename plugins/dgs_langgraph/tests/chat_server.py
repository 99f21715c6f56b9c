"""A chat-completions server on 127.0.0.1: real HTTP in the OpenAI wire format, for the OpenAI backend's tests.

``reply(messages) -> str`` writes the assistant's answer; ``delay`` seconds pass before it is sent (cut
short by :meth:`close`); a ``status`` other than 200 answers an OpenAI-style error instead. Every request
body is kept in ``requests``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def rerank_numbers(messages: list[dict[str, str]]) -> list[int]:
    """The candidate numbers ``[1] ... [n]`` listed in a rerank prompt."""
    return [int(n) for n in re.findall(r"^\[(\d+)\]", messages[-1]["content"], re.MULTILINE)]


class ChatServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Callable[[list[dict[str, str]]], str] = lambda messages: "[]"
        self.delay = 0.0
        self.status = 200
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if server.delay:
                    server._closing.wait(server.delay)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
                elif server.status != 200:
                    self._send(server.status, {"error": {"message": "the model is overloaded", "type": "server_error"}})
                else:
                    self._send(200, {
                        "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                        "created": int(time.time()), "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": server.reply(body["messages"])}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="chat-server")
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
