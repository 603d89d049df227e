"""`fhir-server serve` as users start it: a real process on a real port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from fhir_server.db import Patient
from fhir_server.db.engine import Database

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).with_name("fhir-server"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited: {process.stdout.read().decode() if process.stdout else ''}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not answer /health within 60 s")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_serve_demo_on_the_embedded_default(tmp_path: Path) -> None:
    with serving(["--demo"], tmp_path, {"FHIR_SERVER_LOG_LEVEL": "warning"}) as base:
        assert httpx.get(f"{base}/health/ready").json()["status"] == "pass"
    database = Database(f"sqlite:///{tmp_path / 'fhir-server.db'}")
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 50
    database.dispose()


def test_serve_with_two_workers_on_a_database_url(database_url: str, tmp_path: Path) -> None:
    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    subprocess.run([CLI, "seed", "--demo"], env={**os.environ, **env}, check=True, capture_output=True)
    with serving(["--workers", "2"], tmp_path, env) as base:
        statuses = [httpx.get(f"{base}/health/ready").status_code for _ in range(10)]
        assert statuses == [200] * 10
