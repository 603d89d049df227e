"""Each request's database work is bounded (issue 12, items 18 and 19), on SQLite and PostgreSQL:

- a statement running past FHIR_SERVER_STATEMENT_TIMEOUT is stopped and answers 400 ``too-costly``;
- a client that disconnects leaves no statement running;
- no free connection within the pool timeout answers 503 ``transient`` with Retry-After, and the server recovers.

The slow statement runs through the same machinery a search uses (``unit_of_work.read`` in a request of the app);
only its SQL is chosen to be slow: a recursive count on SQLite, ``pg_sleep`` on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fhir_server.app import create_app
from fhir_server.db.limits import DatabaseLimits
from fhir_server.fhir import unit_of_work
from fhir_server.settings import load_settings
from tests.clinics import make_clinic
from tests.servers import free_port

SLOW_SQL = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4e8) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(20)",
}


def _slow_app(database_url: str, ended: threading.Event | None = None, **settings: Any) -> FastAPI:
    """The server's app with one extra route, ``/slow``, running a statement that takes far longer than the tests
    allow, in a read session of the request (as a search does); ``ended`` is set when the statement is over."""
    app = create_app(load_settings(database_url=database_url, auth="disabled", **settings))
    sql = text(SLOW_SQL["sqlite" if database_url.startswith("sqlite") else "postgresql"])

    def run(session: Session) -> None:
        try:
            session.execute(sql)
        finally:
            if ended is not None:
                ended.set()

    async def slow(request: Request) -> Response:
        await unit_of_work.read(request, run)
        return PlainTextResponse("finished")

    app.add_route("/slow", slow)
    return app


def _issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def test_a_statement_running_past_the_statement_timeout_answers_400_too_costly(database_url: str) -> None:
    with TestClient(_slow_app(database_url, statement_timeout=1)) as client:
        started = time.monotonic()
        response = client.get("/slow")
        elapsed = time.monotonic() - started
        assert response.status_code == 400
        assert _issue(response)["code"] == "too-costly"
        assert "statement timeout of 1 s" in _issue(response)["diagnostics"]
        assert elapsed < 4
        assert client.get("/fhir/Patient").status_code == 200  # the connection went back to the pool, usable


def test_the_statement_timeout_bounds_a_search_too(database_url: str) -> None:
    """A real search whose request has no time left is stopped the same way (here: a budget of 1 ms)."""
    with TestClient(_slow_app(database_url, statement_timeout=0.001)) as client:
        response = client.get("/fhir/Patient", params={"name": "a", "birthdate": "ge1900"})
        assert response.status_code == 400
        assert _issue(response)["code"] == "too-costly"


@contextmanager
def _served(app: FastAPI, graceful: int | None = None) -> Iterator[tuple[str, uvicorn.Server, threading.Thread]]:
    """``app`` behind a real uvicorn server in a thread: real sockets, so a client can really go away; ``graceful``:
    uvicorn's graceful-shutdown timeout, as `serve` sets it."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=graceful)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", server, thread
    finally:
        server.should_exit = True
        thread.join(30)


def _running_sleeps(database_url: str) -> int:
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(20)%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_client_that_disconnects_leaves_no_statement_running(database_url: str) -> None:
    ended = threading.Event()
    with _served(_slow_app(database_url, ended, statement_timeout=60)) as (root, _, _):
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{root}/slow", timeout=1.5)  # the client gives up and closes its connection
        assert ended.wait(5), "the statement kept running after its client went away"
        if not database_url.startswith("sqlite"):
            time.sleep(0.5)
            assert _running_sleeps(database_url) == 0
        assert httpx.get(f"{root}/fhir/Patient", timeout=10).status_code == 200


def test_no_free_connection_answers_503_with_retry_after_then_the_server_recovers(database_url: str) -> None:
    settings: dict[str, Any] = {"database_max_connections": 3, "database_pool_timeout": 0.5}
    with TestClient(_slow_app(database_url, **settings)) as client:
        database = client.app.state.context.database  # type: ignore[attr-defined]
        sizes = DatabaseLimits(connections=3).sizes(database.is_sqlite)
        with ExitStack() as held:  # what requests in flight would hold: every connection of the request pool
            for _ in range(sizes.pool_size + sizes.overflow):
                held.enter_context(database.engine.connect())
            started = time.monotonic()
            response = client.get("/fhir/Patient")
            assert time.monotonic() - started < 3
            assert response.status_code == 503
            assert response.headers["Retry-After"].isdigit()
            assert _issue(response)["code"] == "transient"
        assert client.get("/fhir/Patient").status_code == 200


def test_no_free_connection_for_reads_answers_503_with_retry_after(database_url: str) -> None:
    """The async pool of read and vread (PostgreSQL) is bounded the same way."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite reads use the request pool (tested above)")
    settings: dict[str, Any] = {"database_max_connections": 3, "database_pool_timeout": 0.5}
    with TestClient(_slow_app(database_url, **settings)) as client:
        make_clinic(client, "Clinic")
        patient = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
        path = f"/fhir/Patient/{patient.json()['id']}"
        release = anyio.Event()
        held = anyio.Event()

        async def hold_the_read_connection() -> None:
            async with client.app.state.context.database.async_pool().connection():  # type: ignore[attr-defined]
                held.set()
                await release.wait()

        assert client.portal is not None
        future = client.portal.start_task_soon(hold_the_read_connection)
        client.portal.call(held.wait)
        response = client.get(path)
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        assert _issue(response)["code"] == "transient"
        client.portal.call(release.set)
        future.result(timeout=10)
        assert client.get(path).status_code == 200


def test_shutting_down_stops_a_running_statement_after_the_graceful_timeout(database_url: str) -> None:
    """What SIGTERM does to `serve`: after the graceful-shutdown timeout the request is cancelled, and with it
    its statement, so the server stops (here within 1 s + a few, against a statement of minutes)."""
    ended = threading.Event()
    with _served(_slow_app(database_url, ended, statement_timeout=60), graceful=1) as (root, server, thread):
        client = threading.Thread(target=_get_ignoring_errors, args=(f"{root}/slow",), daemon=True)
        client.start()
        time.sleep(1)
        started = time.monotonic()
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "the server did not stop"
        assert ended.wait(1), "the statement outlived the server"
        assert time.monotonic() - started < 6


def _get_ignoring_errors(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, timeout=60)
