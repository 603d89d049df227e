"""A PostgreSQL outage answers 503 with Retry-After, quickly, with a bounded log; the server recovers by itself
(issue 12, item 20).

Each test starts a throw-away PostgreSQL server of its own (as .ci/postgres.sh does), points the app at it, then
stops it (down) or SIGSTOPs every process of it (frozen), and starts or resumes it again.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.db.limits import GRACE
from fhir_server.db.migrate import upgrade
from fhir_server.settings import load_settings
from tests.clinics import make_clinic
from tests.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
STATEMENT_TIMEOUT = 5
CONNECT_TIMEOUT = 1


def _bindir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        if (candidate / "initdb").exists():
            return candidate
    pytest.skip("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")


class PrivatePostgres:
    """A PostgreSQL server in a temporary directory, run as the ``postgres`` user when we are root."""

    def __init__(self) -> None:
        self.bin = _bindir()
        self.dir = Path(tempfile.mkdtemp(prefix="fhir-server-outage-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._frozen: list[int] = []
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off"
        log = str(self.dir / "server.log")
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", log, "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers."""
        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        self._frozen = [postmaster, *(int(pid) for pid in children)]
        for pid in self._frozen:
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._frozen:
            os.kill(pid, signal.SIGCONT)
        self._frozen = []

    def remove(self) -> None:
        self.thaw()
        subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
            user="postgres" if os.getuid() == 0 else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        upgrade(server.url)
        yield server
    finally:
        server.remove()


@pytest.fixture
def client(postgres: PrivatePostgres) -> Iterator[TestClient]:
    settings = load_settings(
        database_url=postgres.url,
        auth="disabled",
        statement_timeout=STATEMENT_TIMEOUT,
        database_connect_timeout=CONNECT_TIMEOUT,
        database_pool_timeout=1,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _patient(client: TestClient) -> str:
    make_clinic(client, "Clinic")
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
    assert created.status_code == 201
    return str(created.json()["id"])


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "transient"


def _recovers(client: TestClient, patient_id: str) -> None:
    deadline = time.monotonic() + 20
    while client.get("/fhir/Patient").status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover after the database came back"
        time.sleep(0.5)
    assert client.get(f"/fhir/Patient/{patient_id}").status_code == 200


def test_a_database_that_is_down_answers_503_quickly_logs_a_bounded_count_and_recovers(
    postgres: PrivatePostgres, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    patient_id = _patient(client)
    postgres.stop()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for path in ["/fhir/Patient", f"/fhir/Patient/{patient_id}"] * 20:
            started = time.monotonic()
            _assert_unavailable(client.get(path))
            assert time.monotonic() - started < 3
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "fhir_server.request"]
    assert 1 <= len(errors) <= 3, [r.getMessage() for r in errors]  # one line per kind, not one per failure
    assert all(r.exc_info is None for r in errors)  # no tracebacks
    postgres.start()
    _recovers(client, patient_id)


def test_a_frozen_database_answers_503_within_the_statement_timeout_and_recovers(
    postgres: PrivatePostgres, client: TestClient
) -> None:
    patient_id = _patient(client)
    postgres.freeze()
    # Cut after the statement timeout and grace, then a new connection (or two) fails after its connect timeout,
    # which libpq never makes shorter than 2 s.
    bound = STATEMENT_TIMEOUT + GRACE + 2 * max(2, CONNECT_TIMEOUT) + 2
    for path in ["/fhir/Patient", f"/fhir/Patient/{patient_id}"]:
        started = time.monotonic()
        _assert_unavailable(client.get(path))
        assert time.monotonic() - started < bound
    postgres.thaw()
    _recovers(client, patient_id)
