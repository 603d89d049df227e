"""A served server killed in the middle of an export, and started again (issue 17: "... restarts the server during
another and still gets a correct manifest"; https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-status-request).

A backend service writes a few Patients, Conditions and Observations over HTTP and kicks off
``$export?_type=Condition,Observation&_typeFilter=Observation?status=final``. PostgreSQL holds the export midway: the
test locks the token index the Observation filter reads, so the Conditions are written and the Observations wait.
The server is then killed hard (SIGKILL: its worker never gives the job back) and the lock released; an Observation
written afterwards is not part of the export's snapshot. A new server on the same database and export directory
re-runs the job once the dead worker's lease runs out, from nothing: the client's token (stored in the database)
still polls the same status URL, and the manifest keeps the first run's ``transactionTime``, lists exactly the data
written before the kick-off, and no half file or staging directory is left. A server stopped with SIGTERM during an
export gives the job back at once (queued, half files gone), and the next server runs it as of its own kick-off.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from subprocess import Popen
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from fhir_server.app import create_app
from fhir_server.db.types import utcnow
from fhir_server.fhir.bulk.manifest import STATUS_PATH
from fhir_server.settings import load_settings
from tests.served_backend import backend_client, backend_token, create_clinic, served_env
from tests.servers import served_process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    # a running export is held with a PostgreSQL table lock (SQLite readers never wait)
    pytest.mark.parametrize("module_database_url", ["postgresql"], indirect=True, scope="module"),
]
WAIT = 30.0
READ_SCOPE = "system/Condition.rs system/Observation.rs"
KICK_OFF = "/$export?_type=Condition,Observation&_typeFilter=Observation%3Fstatus%3Dfinal"
Json = dict[str, Any]


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """A served server with authorization on."""
    return "on"


@dataclass(frozen=True)
class Setup:
    database_url: str
    folder: Path
    env: dict[str, str]
    exporter: str
    writer: str


@pytest.fixture(scope="module")
def setup(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    folder = tmp_path_factory.mktemp("restart")
    create_clinic(module_database_url, "Clinic A")
    exporter = backend_client(module_database_url, folder, "Clinic A", READ_SCOPE, "Exporter")
    writer = backend_client(module_database_url, folder, "Clinic A", "system/*.cruds", "Writer")
    env = served_env(module_database_url, folder, FHIR_SERVER_JOBS_LEASE_SECONDS="2")
    return Setup(module_database_url, folder, env, exporter, writer)


def _observation(id_: str, patient: str, status: str) -> Json:
    code = {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}
    return {"resourceType": "Observation", "id": id_, "status": status, "code": code, "subject": _ref(patient)}


def _ref(patient: str) -> Json:
    return {"reference": f"Patient/{patient}"}


def _condition(id_: str, patient: str) -> Json:
    return {"resourceType": "Condition", "id": id_, "subject": _ref(patient), "code": {"text": "asthma"}}


DATA: list[Json] = [
    *({"resourceType": "Patient", "id": p, "name": [{"family": p}]} for p in ("p1", "p2", "p3")),
    _condition("c1", "p1"),
    _condition("c2", "p2"),
    _observation("o1", "p1", "final"),
    _observation("o2", "p2", "final"),
    _observation("o3", "p3", "final"),
    _observation("o4", "p1", "preliminary"),  # left out by the _typeFilter
]
EXPECTED = {"Condition": {"c1", "c2"}, "Observation": {"o1", "o2", "o3"}}


def _put(http: httpx.Client, resource: Json) -> None:
    response = http.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text


def _fhir(root: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{root}/fhir", headers={"Authorization": f"Bearer {token}"}, timeout=WAIT)


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def _job(database_url: str, job_id: str) -> tuple[str, int, Json]:
    """The job's state, attempts and params as they are now (read with a short-lived engine of the test's own)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT state, attempts, params FROM jobs WHERE id = :id"), {"id": job_id})
            state, attempts, params = row.one()
    finally:
        engine.dispose()
    return str(state), int(attempts), dict(params)


@dataclass(frozen=True)
class Held:
    """An export the test held midway and whose server it then stopped: the status URL, the job and the instants
    just before and after its kick-off."""

    status_url: str
    job_id: str
    before: datetime
    after: datetime


def _hold_and_stop(setup: Setup, server: Popen[bytes], http: httpx.Client, stop: signal.Signals) -> Held:
    """Kick off the export with ``http``, hold it once its Conditions are written (a lock on the token index its
    Observation filter reads), send ``stop`` to ``server``, release the lock; once the server has exited."""
    exports = Path(setup.env["FHIR_SERVER_EXPORT_DIR"])
    engine = create_engine(setup.database_url)
    try:
        with engine.connect() as holder:
            holder.execute(text("LOCK TABLE search_token IN ACCESS EXCLUSIVE MODE"))
            now = utcnow()
            before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # kick-off truncates to ms
            response = http.get(KICK_OFF, headers={"Accept": "application/fhir+json", "Prefer": "respond-async"})
            after = utcnow()
            assert response.status_code == 202, response.text
            status_url = response.headers["Content-Location"]
            job_id = status_url.rsplit("/", 1)[1]
            _wait_until(lambda: (exports / f".{job_id}.partial" / "Condition-1.ndjson").exists())
            assert http.get(status_url).status_code == 202  # running: Conditions written, Observations held
            server.send_signal(stop)
            if stop == signal.SIGKILL:
                assert server.wait(WAIT) == -signal.SIGKILL  # dead before the lock goes
            else:
                _read_until(server, STOPPING)  # the job loop is stopping before the lock goes
            holder.rollback()
    finally:
        engine.dispose()
    assert server.wait(WAIT) in (0, -stop)  # uvicorn re-raises SIGTERM once it has shut down
    return Held(status_url, job_id, before, after)


STOPPING = b"waiting up to"
"""What a stopping server logs (fhir_server.jobs.loop.ServerLoop.stop, log level info) once its running job will be
interrupted at its next progress report."""


def _read_until(server: Popen[bytes], marker: bytes) -> None:
    """Read the server's output until a line holds ``marker``."""
    assert server.stdout is not None
    for line in server.stdout:
        if marker in line:
            return
    pytest.fail(f"the server exited without logging {marker!r}")


@dataclass(frozen=True)
class Killed:
    """The first server, killed during the export: its port, the exporter's token, the export."""

    port: int
    token: str
    held: Held


@pytest.fixture(scope="module")
def killed(setup: Setup) -> Killed:
    """Write the data, kick off the export, hold it midway, SIGKILL the server, release the lock and write an
    Observation the export must not contain (while no server runs)."""
    with served_process([], setup.folder, setup.env) as (server, root):
        writing = backend_token(root, setup.writer, "system/*.cruds")
        with _fhir(root, writing) as http:
            for resource in DATA:
                _put(http, resource)
        token = backend_token(root, setup.exporter, READ_SCOPE)
        with _fhir(root, token) as http:
            held = _hold_and_stop(setup, server, http, signal.SIGKILL)
    assert _job(setup.database_url, held.job_id)[:2] == ("running", 1)  # the dead worker never gave it back
    _write_while_down(setup, writing, _observation("o5", "p2", "final"))  # after the snapshot: not exported
    return Killed(int(root.rsplit(":", 1)[1]), token, held)


@pytest.fixture(scope="module")
def restarted(setup: Setup, killed: Killed) -> Iterator[tuple[Popen[bytes], str]]:
    """A new server on the same port, database and export directory."""
    env = setup.env | {"FHIR_SERVER_LOG_LEVEL": "info"}  # its stop is awaited by its log (STOPPING)
    with served_process([], setup.folder, env, port=killed.port) as started:
        yield started


def _write_while_down(setup: Setup, token: str, resource: Json) -> None:
    """Write ``resource`` with ``token`` through the FHIR API of an app in this process that runs no jobs (another
    replica, while no server runs the export)."""
    settings = load_settings(database_url=setup.database_url, jobs_in_server=False)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code == 201, response.text


def _manifest(http: httpx.Client, status_url: str) -> Json:
    """Poll the status URL until the export is complete; the manifest."""
    deadline = time.monotonic() + WAIT
    while (response := http.get(status_url)).status_code == 202:
        assert time.monotonic() < deadline, "the export did not complete"
        time.sleep(0.2)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def _exported(setup: Setup, http: httpx.Client, held: Held) -> dict[str, set[str]]:
    """Check the complete export ``held``: its manifest's transactionTime is the one taken at its kick-off, every
    listed file downloads with the listed count of resources of its type, nothing else is in the job's directory,
    no staging directory is left, the job ran twice. The ids exported, by type."""
    manifest = _manifest(http, held.status_url)
    state, attempts, params = _job(setup.database_url, held.job_id)
    assert (state, attempts) == ("completed", 2)
    transaction_time = datetime.fromisoformat(manifest["transactionTime"].replace("Z", "+00:00"))
    assert transaction_time == datetime.fromisoformat(params["transaction_time"])
    assert held.before <= transaction_time <= held.after
    assert manifest["request"] == f"{str(http.base_url).rstrip('/')}{KICK_OFF}"
    assert manifest["error"] == []
    exported: dict[str, set[str]] = {}
    for entry in manifest["output"]:
        response = http.get(entry["url"])
        assert response.status_code == 200, response.text
        resources = [orjson.loads(line) for line in response.content.splitlines()]
        assert len(resources) == entry["count"] and {r["resourceType"] for r in resources} == {entry["type"]}
        exported.setdefault(entry["type"], set()).update(r["id"] for r in resources)
    folder = Path(setup.env["FHIR_SERVER_EXPORT_DIR"])
    assert not (folder / f".{held.job_id}.partial").exists()
    listed = sorted(entry["url"].rsplit("/", 1)[1] for entry in manifest["output"])
    assert sorted(p.name for p in (folder / held.job_id).iterdir()) == listed == [f"{t}-1.ndjson" for t in exported]
    return exported


def test_a_server_killed_during_an_export_completes_it_as_of_its_kickoff_once_restarted(
    setup: Setup, killed: Killed, restarted: tuple[Popen[bytes], str]
) -> None:
    _server, root = restarted
    assert killed.held.status_url.startswith(f"{root}/fhir{STATUS_PATH}")
    with _fhir(root, killed.token) as http:  # the token the first server issued (tokens live in the database)
        assert _exported(setup, http, killed.held) == EXPECTED  # without o5, written after the kick-off


def test_a_server_stopped_during_an_export_gives_it_back_at_once(
    setup: Setup, killed: Killed, restarted: tuple[Popen[bytes], str]
) -> None:
    """SIGTERM: the stopping server's worker gives the job back (queued, its half files gone); the next server runs
    it as of its own kick-off, which came after o5 was written."""
    server, root = restarted
    with _fhir(root, killed.token) as http:
        _manifest(http, killed.held.status_url)  # the killed export is done: the server runs one job at a time
        held = _hold_and_stop(setup, server, http, signal.SIGTERM)
    assert _job(setup.database_url, held.job_id)[:2] == ("queued", 1)
    assert not (Path(setup.env["FHIR_SERVER_EXPORT_DIR"]) / f".{held.job_id}.partial").exists()
    with (
        served_process([], setup.folder, setup.env, port=killed.port) as (_next, again),
        _fhir(again, killed.token) as http,
    ):
        assert _exported(setup, http, held) == {**EXPECTED, "Observation": {"o1", "o2", "o3", "o5"}}
