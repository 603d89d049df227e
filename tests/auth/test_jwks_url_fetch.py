"""A client's JWKS URL is fetched outside any database transaction, within a deadline and a size cap, and cached.

The key servers are real HTTP servers on loopback that answer well, stall, trickle or send a huge body.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import text

from fhir_server.auth import client_keys
from fhir_server.db import Organization
from fhir_server.db.engine import Database
from tests.auth.conftest import Clinic
from tests.auth.test_backend_services import _register, assertion, request_token
from tests.backend_services import RS384

DEADLINE = 1.5


@dataclass
class KeyServer:
    """A JWKS URL served by ``behaviour(handler)``; counts the requests it got and signals the first."""

    behaviour: Callable[[BaseHTTPRequestHandler], None]
    hits: int = 0
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""


def _serve_jwks(keys: list[dict[str, Any]]) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps({"keys": keys}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


@pytest.fixture
def key_server() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], KeyServer]]:
    servers: list[tuple[ThreadingHTTPServer, KeyServer]] = []

    def start(behaviour: Callable[[BaseHTTPRequestHandler], None]) -> KeyServer:
        state = KeyServer(behaviour)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.hits += 1
                state.reached.set()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server gave up on us
                    state.behaviour(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.url = f"http://127.0.0.1:{server.server_address[1]}/{uuid.uuid4().hex}/jwks.json"
        servers.append((server, state))
        return state

    yield start
    for server, state in servers:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_keys, "FETCH_DEADLINE", DEADLINE)


def _stall(state: KeyServer) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        state.release.wait(30)

    return answer


def _trickle(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(b'{"keys": [')
    for _ in range(300):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.1)


def _huge(chunked: bool) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        body = b'{"keys": [], "padding": "' + b"x" * (20 * 1024 * 1024) + b'"}'
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if not chunked:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def _open_transactions(database: Database) -> int:
    """PostgreSQL: this database's sessions idle inside a transaction (the test's own query is not idle)."""
    with database.read() as session:
        count = session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        )
    return int(count or 0)


def test_a_stalling_key_server_holds_no_database_lock_and_ends_within_the_deadline(
    client: TestClient, database: Database, clinic: Clinic, key_server: Callable[..., KeyServer]
) -> None:
    server = key_server(lambda handler: None)
    server.behaviour = _stall(server)
    client_id = _register(database, clinic, jwks_url=server.url)
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        pending = pool.submit(request_token, client, assertion(client_id, RS384, "RS384"))
        assert server.reached.wait(10), "the server never fetched the JWKS"
        write_started = time.monotonic()
        with database.write() as session:  # another write proceeds while the fetch hangs
            session.add(Organization(name="Written during the fetch", fhir_id="during-fetch"))
        assert time.monotonic() - write_started < 0.5
        if not database.is_sqlite:
            assert _open_transactions(database) == 0
        response = pending.result(timeout=30)
        elapsed = time.monotonic() - started
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"
    assert "did not answer within" in response.json()["error_description"]
    assert elapsed < DEADLINE + 1.0


def test_a_trickling_key_server_is_cut_off_at_the_deadline(
    client: TestClient, database: Database, clinic: Clinic, key_server: Callable[..., KeyServer]
) -> None:
    server = key_server(_trickle)
    client_id = _register(database, clinic, jwks_url=server.url)
    started = time.monotonic()
    response = request_token(client, assertion(client_id, RS384, "RS384"))
    assert time.monotonic() - started < DEADLINE + 1.0
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_huge_jwks_is_refused_without_reading_it_all(
    client: TestClient, database: Database, clinic: Clinic, key_server: Callable[..., KeyServer], chunked: bool
) -> None:
    server = key_server(_huge(chunked))
    client_id = _register(database, clinic, jwks_url=server.url)
    started = time.monotonic()
    response = request_token(client, assertion(client_id, RS384, "RS384"))
    assert time.monotonic() - started < DEADLINE
    assert response.json()["error"] == "invalid_client"
    assert "larger than" in response.json()["error_description"]


def test_keys_are_cached_and_unknown_kids_refetch_at_most_once_per_interval(
    client: TestClient,
    database: Database,
    clinic: Clinic,
    key_server: Callable[..., KeyServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_keys, "REFETCH_INTERVAL", 2.0)
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rsa-2", "alg": "RS384"}, private=True)
    published = [RS384.as_dict(private=False)]
    server = key_server(lambda handler: _serve_jwks(published)(handler))
    client_id = _register(database, clinic, jwks_url=server.url)
    for _ in range(3):
        assert request_token(client, assertion(client_id, RS384, "RS384")).status_code == 200
    assert server.hits == 1
    published.append(rotated.as_dict(private=False))  # the client rotates its key
    for _ in range(3):  # within the interval: no refetch, however many unknown kids
        assert request_token(client, assertion(client_id, rotated, "RS384")).status_code in (400, 401)
    assert server.hits == 1
    time.sleep(2.1)
    assert request_token(client, assertion(client_id, rotated, "RS384")).status_code == 200
    assert server.hits == 2
