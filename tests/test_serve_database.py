"""`fhir-server serve` and the database (issue 12, items 18 and 19).

- SIGTERM stops the server within a bounded time even while a request waits on the database: uvicorn lets running
  requests finish for cli.GRACEFUL_SHUTDOWN seconds, then cancels them, which stops their database work. The request
  here waits for a lock the test holds: the database's write lock on SQLite, a table lock on PostgreSQL.
- Each of ``--workers N`` takes 1/N of FHIR_SERVER_DATABASE_MAX_CONNECTIONS, and says so at start-up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from fhir_server.cli import GRACEFUL_SHUTDOWN
from tests.clinics import add_clinic_at
from tests.servers import CLI, _wait_until_alive, free_port

pytestmark = pytest.mark.slow
PATIENT = {"resourceType": "Patient", "name": [{"family": "Waiting", "given": ["Jane"]}]}


@contextmanager
def _server(database_url: str, cwd: Path, *args: str, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``serve`` on ``database_url`` (authorization off, ``settings`` as FHIR_SERVER_* variables); its output goes to
    cwd/server.log."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env = {**clean, "FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_AUTH": "disabled"}
    env |= {f"FHIR_SERVER_{name.upper()}": value for name, value in settings.items()}
    with (cwd / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    root = f"http://127.0.0.1:{port}"
    try:
        _wait_until_alive(process, root)
        yield process, root
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def _writes_blocked(database_url: str) -> Iterator[None]:
    """Hold what a write needs, as a long transaction of another program would."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(database_url).database or "", isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.close()
        return
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as pg:
        pg.execute("LOCK TABLE resource_history IN EXCLUSIVE MODE")
        yield
        pg.rollback()


def test_sigterm_stops_the_server_while_a_request_waits_on_the_database(database_url: str, tmp_path: Path) -> None:
    with _server(database_url, tmp_path) as (process, root):
        add_clinic_at(database_url, "Clinic")
        with _writes_blocked(database_url):
            writer = _writing(root)
            time.sleep(1.5)
            assert writer.is_alive(), "the write did not wait for the lock"
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=GRACEFUL_SHUTDOWN + 6)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the server did not stop within {GRACEFUL_SHUTDOWN + 6} s of SIGTERM")
            writer.join(5)
            assert not writer.is_alive()


def _writing(root: str) -> threading.Thread:
    """A thread creating a Patient (answered or not: the server is stopped under it)."""

    def create() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{root}/fhir/Patient", json=PATIENT, timeout=120)

    writer = threading.Thread(target=create, daemon=True)
    writer.start()
    return writer


def test_each_worker_takes_its_share_of_the_connections_and_says_so(database_url: str, tmp_path: Path) -> None:
    with _server(database_url, tmp_path, "--workers", "2", database_max_connections="20") as (process, root):
        assert httpx.get(f"{root}/fhir/Patient", timeout=30).status_code == 200
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if "database connections" in line]
    assert len(lines) == 2, lines  # one per worker
    assert all("2 worker(s), at most 10 connections each" in line for line in lines)
