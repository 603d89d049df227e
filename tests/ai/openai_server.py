"""A local OpenAI-compatible chat server for the tests: scripted answers, every request recorded.

``POST /v1/chat/completions`` answers with the next scripted :class:`Reply` (canned summary JSON, malformed output,
a slow answer, a 429 or a 5xx), then with the default one. It runs on a free loopback port in a thread, so the real
``openai`` client talks HTTP to it and no call leaves the machine.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CANNED: dict[str, Any] = {
    "summary": "Adult patient with a dry cough for three weeks, worse at night; no fever reported.",
    "patient_concerns": ["Cough keeps them awake at night"],
    "medications": ["lisinopril 10 mg daily"],
    "allergies": ["penicillin (hives)"],
    "key_notes": ["Former smoker"],
}


def completion(content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> dict[str, Any]:
    """A chat.completion object holding ``content``."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, body (a dict is sent as JSON, a str as it is), headers, delay in seconds."""

    status: int = 200
    body: Any = field(default_factory=lambda: completion(json.dumps(CANNED)))
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def summary(cls, **overrides: Any) -> Reply:
        return cls(body=completion(json.dumps({**CANNED, **overrides})))

    @classmethod
    def content(cls, text: str | None, finish_reason: str = "stop") -> Reply:
        return cls(body=completion(text, finish_reason))

    @classmethod
    def error(cls, status: int, headers: dict[str, str] | None = None) -> Reply:
        body = {"error": {"message": f"scripted {status}", "type": "server_error", "code": None}}
        return cls(status=status, body=body, headers=headers or {})


@dataclass
class Recorded:
    """A request the server received: path, headers and JSON body."""

    path: str
    headers: dict[str, str]
    body: Any


class FakeOpenAI:
    """The scripted server (use :meth:`running`)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.default = Reply()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        """The API base URL (``.../v1``), as FHIR_SERVER_OPENAI_BASE_URL takes it."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            return self.replies.popleft() if self.replies else self.default

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[FakeOpenAI]:
        server = cls()
        thread = threading.Thread(target=server._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server._server.shutdown()
            server._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._next(Recorded(self.path, headers, json.loads(raw or b"null")))
                if self.path != "/v1/chat/completions":
                    reply = Reply.error(404)
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                payload = body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
