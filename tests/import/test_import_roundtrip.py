"""Export then import into an empty server reproduces the data (issue 17 item 8): the demo clinic (mapped types and
the resource store, reference cycles included) exported by ``GET [base]/$export`` through the HTTP API with
authorization on and a backend service's ``system/*.rs`` token (https://hl7.org/fhir/uv/bulkdata/STU2/export.html),
the job run by the job queue, the manifest's files downloaded through their URLs, then ``fhir-server import`` of them
into an empty server: every resource equal to the source apart from ``meta`` and the server-assigned MRN. Then an
update and a delete on the source, a ``_since`` export, and its files (the deleted Bundle too) imported into the new
server make it equal to the source again."""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.app import create_app
from fhir_server.app_context import context_of
from fhir_server.cli import app
from fhir_server.db import Organization, ResourceHistory
from fhir_server.db.engine import Database
from fhir_server.jobs import handlers
from fhir_server.jobs.worker import run_pending
from fhir_server.settings import load_settings
from mappings.patient import MRN_SYSTEM
from tests.authorized_client import system_token
from tests.backend_services import register_backend
from tests.conftest import _admin_execute, _database_url, _postgres_admin_url

runner = CliRunner()
KICK_OFF = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
Json = dict[str, Any]


@pytest.fixture
def empty_server_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh, migrated database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "target.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin_url, name = _postgres_admin_url(), f"fhir_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{request.getfixturevalue("postgres_template")}"')
    yield _database_url(admin_url, name)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(url: str, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"FHIR_SERVER_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Source:
    """The source server with authorization on: a client, and the tokens of two backend services of the clinic
    (``reader``: ``system/*.rs``, the export's; ``writer``: ``system/*.cruds``, for the changes)."""

    client: TestClient
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def export(self, query: dict[str, str], into: Path) -> Json:
        """Kick off a system-level export, let the job queue run it, download every file the manifest names
        (output and deleted) into ``into``; the manifest."""
        kicked_off = self.client.get("/fhir/$export", params=query, headers={**KICK_OFF, **self.headers("reader")})
        assert kicked_off.status_code == 202, kicked_off.text
        context = context_of(self.client.app)  # type: ignore[arg-type]
        handlers.load()
        assert run_pending(context.database, context.settings, "roundtrip") == 1
        done = self.client.get(kicked_off.headers["Content-Location"], headers=self.headers("reader"))
        assert done.status_code == 200, done.text
        manifest: Json = done.json()
        assert manifest["error"] == [], manifest
        into.mkdir()
        for entry in manifest["output"] + manifest.get("deleted", []):
            response = self.client.get(entry["url"], headers=self.headers("reader"))
            assert response.status_code == 200, response.text
            assert len(response.content.splitlines()) == entry["count"]
            (into / entry["url"].rsplit("/", 1)[-1]).write_bytes(response.content)
        return manifest

    def change(self, patient_id: str, observation_id: str) -> None:
        """Rename a Patient (through PUT, its MRN as read) and delete an Observation."""
        found = self.client.get(f"/fhir/Patient/{patient_id}", headers=self.headers("writer")).json()
        found["name"] = [{"family": "Renamed", "given": ["After"]}]
        updated = self.client.put(f"/fhir/Patient/{patient_id}", json=found, headers=self.headers("writer"))
        assert updated.status_code == 200, updated.text
        deleted = self.client.delete(f"/fhir/Observation/{observation_id}", headers=self.headers("writer"))
        assert deleted.status_code in (200, 204), deleted.text


@contextmanager
def source_server(database_url: str, clinic_id: str, export_dir: Path) -> Iterator[Source]:
    """The app on ``database_url`` (authorization on, jobs run by the test through the queue) and its tokens."""
    scopes = {"reader": "system/*.rs", "writer": "system/*.cruds"}
    database = Database(database_url)
    try:
        with database.write() as session:
            clinic = session.scalars(select(Organization).where(Organization.fhir_id == clinic_id)).one()
            clients = {who: register_backend(session, clinic, scope) for who, scope in scopes.items()}
    finally:
        database.dispose()
    settings = load_settings(
        database_url=database_url,
        auth="enabled",
        backend_token_lifetime=3600,
        export_dir=export_dir,
        jobs_in_server=False,
    )
    with TestClient(create_app(settings)) as client:
        yield Source(client, {who: system_token(client, clients[who], scopes[who]) for who in scopes})


def current_resources(url: str) -> dict[str, list[Json]]:
    """Every live resource's current version by type, read from the database itself (not through the API)."""
    database = Database(url)
    found: dict[str, list[Json]] = defaultdict(list)
    try:
        with database.read() as session:
            query = select(ResourceHistory).where(ResourceHistory.superseded_at.is_(None))
            for version in session.scalars(query.where(ResourceHistory.method != "delete")):
                assert version.resource is not None
                found[version.resource_type].append(version.resource)
    finally:
        database.dispose()
    return found


def comparable(resource: Json) -> Json:
    """The resource apart from what each server sets itself: ``meta`` and the Patient's MRN."""
    kept = {k: v for k, v in resource.items() if k != "meta"}
    if resource["resourceType"] == "Patient":
        kept["identifier"] = [i for i in kept.get("identifier", []) if i.get("system") != MRN_SYSTEM]
    return kept


def by_id(resources: dict[str, list[Json]]) -> dict[str, Json]:
    return {f"{t}/{r['id']}": comparable(r) for t, rs in resources.items() for r in rs}


def test_an_export_imported_into_an_empty_server_reproduces_it_and_a_since_export_catches_it_up(
    database_url: str, empty_server_url: str, tmp_path: Path
) -> None:
    cli(database_url, "seed", "--demo")
    source = current_resources(database_url)
    clinic = source["Patient"][0]["managingOrganization"]["reference"].removeprefix("Organization/")
    with source_server(database_url, clinic, tmp_path / "exports") as server:
        manifest = server.export({}, tmp_path / "full")
        cli(empty_server_url, "clinics", "create", "--name", "Migrated", "--fhir-id", clinic)  # the clinic's own id
        for fhir_id, refusal in [(clinic, f"Organization/{clinic} already exists"), ("no id!", "is not a FHIR id")]:
            refused = runner.invoke(app, ["clinics", "create", "--name", "Other", "--fhir-id", fhir_id],
                                    env={"FHIR_SERVER_DATABASE_URL": empty_server_url})  # fmt: skip
            assert refused.exit_code == 1 and refusal in refused.output, refused.output

        output = cli(empty_server_url, "import", str(tmp_path / "full"))

        total = sum(len(r) for r in source.values())
        assert sum(entry["count"] for entry in manifest["output"]) == total
        assert f"{total} lines: {total} resources written, 0 lines failed" in output
        assert {"Patient", "Appointment", "QuestionnaireResponse", "Observation", "Encounter"} <= set(source)
        assert by_id(current_resources(empty_server_url)) == by_id(source)

        patient, observation = (min(r["id"] for r in source[t]) for t in ("Patient", "Observation"))
        server.change(patient, observation)
        changes = server.export({"_since": manifest["transactionTime"]}, tmp_path / "since")

    assert [(e["type"], e["count"]) for e in changes["output"]] == [("Patient", 1)], changes
    assert [(e["type"], e["count"]) for e in changes["deleted"]] == [("Bundle", 1)], changes
    deleted = orjson.loads((tmp_path / "since" / changes["deleted"][0]["url"].rsplit("/", 1)[-1]).read_bytes())
    assert [e["request"] for e in deleted["entry"]] == [{"method": "DELETE", "url": f"Observation/{observation}"}]
    output = cli(empty_server_url, "import", str(tmp_path / "since"))
    assert "2 lines: 2 resources written, 0 lines failed" in output, output
    caught_up = by_id(current_resources(empty_server_url))
    assert caught_up == by_id(current_resources(database_url))
    assert f"Observation/{observation}" not in caught_up
    assert caught_up[f"Patient/{patient}"]["name"] == [{"family": "Renamed", "given": ["After"]}]
