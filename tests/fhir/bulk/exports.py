"""A small two-clinic world for the export runner's tests, written through the FHIR API (the normal write path), with
real access tokens (a backend service of each clinic, a portal patient's ``patient/*.rs`` token) turned into the
grants kick-off stores, and the export job run through the job queue (enqueue, ``run_pending``)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.access.bearer import BearerGrant, live_grant
from fhir_server.app import create_app
from fhir_server.auth.clients import register_client
from fhir_server.auth.dev_tokens import DevTokenRequest, mint
from fhir_server.auth.users import create_user
from fhir_server.db import Organization, Patient
from fhir_server.db.engine import Database
from fhir_server.db.jobs import Job
from fhir_server.db.types import utcnow
from fhir_server.fhir import pipeline
from fhir_server.fhir.bulk.runner import cleanup, run_export
from fhir_server.jobs import queue
from fhir_server.jobs.worker import register, run_pending
from fhir_server.settings import Settings, load_settings
from tests.backend_services import register_backend
from tests.clinics import add_clinic

BASE = "http://testserver/fhir"
BINARY_DATA = "aGVsbG8gZXhwb3J0"  # base64 of "hello export"
Json = dict[str, Any]


@dataclass
class World:
    """The seeded database: ids by name, the instants between the phases of writing, the grants."""

    database: Database
    settings: Settings
    ids: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    snapshot: datetime | None = None
    grants: dict[str, Json] = field(default_factory=dict)


def settings_for(database_url: str, export_dir: Path, **extra: Any) -> Settings:
    return load_settings(database_url=database_url, export_dir=export_dir, auth="enabled", dev_tokens=True, **extra)


def _post(client: TestClient, resource: Json) -> str:
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def observation(patient: str, status: str, code: str) -> Json:
    return {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def patient(name: str, clinic: str) -> Json:
    return {
        "resourceType": "Patient",
        "name": [{"family": name}],
        "managingOrganization": {"reference": f"Organization/{clinic}"},
    }


def seed(database_url: str, export_dir: Path) -> World:
    """Write the world in three phases: before ``since``, between ``since`` and ``snapshot``, after ``snapshot``."""
    database = Database(database_url, finish=pipeline.finish)
    clinic_a = add_clinic(database, "Main Street Clinic")["id"]
    clinic_b = add_clinic(database, "Harbor Clinic")["id"]
    world = World(database, settings_for(database_url, export_dir))
    ids = world.ids
    ids |= {"clinic_a": clinic_a, "clinic_b": clinic_b}
    app_settings = load_settings(
        database_url=database_url, auth="disabled", default_clinic=clinic_a, jobs_in_server=False
    )
    with TestClient(create_app(app_settings)) as client:
        ids["p1"] = _post(client, patient("One", clinic_a))
        ids["p2"] = _post(client, patient("Twö 二", clinic_a))
        ids["p3"] = _post(client, patient("Three", clinic_b))
        ids["o1"] = _post(client, observation(ids["p1"], "final", "1111-1"))
        ids["o2"] = _post(client, observation(ids["p1"], "preliminary", "2222-2"))
        ids["o3"] = _post(client, observation(ids["p2"], "final", "3333-3"))
        ids["o4"] = _post(client, observation(ids["p3"], "final", "1111-1"))
        ids["o7"] = _post(client, observation(ids["p2"], "final", "7777-7"))
        condition = {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{ids['p2']}"},
            "code": {"text": "flu"},
        }
        ids["c1"] = _post(client, condition)
        ids["dr"] = _post(client, {"resourceType": "Practitioner", "name": [{"family": "Doc"}]})
        ids["b1"] = _post(client, {"resourceType": "Binary", "contentType": "text/plain", "data": BINARY_DATA})
        group = {
            "resourceType": "Group",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": f"Patient/{ids['p1']}"}}],
        }
        ids["g1"] = _post(client, group)
        world.since = _tick()
        assert (
            client.put(
                f"/fhir/Condition/{ids['c1']}", json={**condition, "id": ids["c1"], "note": [{"text": "x"}]}
            ).status_code
            == 200
        )
        ids["o6"] = _post(client, observation(ids["p2"], "preliminary", "6666-6"))
        assert client.delete(f"/fhir/Observation/{ids['o7']}").status_code in (200, 204)
        world.snapshot = _tick()
        amended = {**observation(ids["p1"], "amended", "1111-1"), "id": ids["o1"]}
        assert client.put(f"/fhir/Observation/{ids['o1']}", json=amended).status_code == 200
        ids["o5"] = _post(client, observation(ids["p1"], "final", "5555-5"))
        assert client.delete(f"/fhir/Observation/{ids['o2']}").status_code in (200, 204)
    _grants(world)
    return world


def _tick() -> datetime:
    """An instant strictly between the writes before and after it."""
    time.sleep(0.01)
    instant = utcnow()
    time.sleep(0.01)
    return instant


def _grants(world: World) -> None:
    """Real tokens (minted by the token endpoint's own grants) and the grants a kick-off would store for them."""
    database, ids = world.database, world.ids
    with database.write() as session:
        org_a = session.scalars(select(Organization).where(Organization.fhir_id == ids["clinic_a"])).one()
        org_b = session.scalars(select(Organization).where(Organization.fhir_id == ids["clinic_b"])).one()
        backend_a = register_backend(session, org_a, "system/*.rs")
        backend_b = register_backend(session, org_b, "system/*.rs")
        app = register_client(
            session,
            name="Portal app",
            client_type="public",
            organization=org_a,
            scope="launch/patient openid fhirUser patient/*.rs",
            redirect_uris=["https://app.example.org/callback"],
        ).client.client_id
        p1_row = session.scalar(select(Patient.id).where(Patient.fhir_id == ids["p1"]))
        create_user(
            session,
            organization=org_a,
            email="one@example.org",
            password="a-long-portal-password-1",
            role="patient",
            full_name="Patient One",
            patient_id=p1_row,
        )
        tokens = {
            "a": mint(session, world.settings, DevTokenRequest(backend_a, "system/*.rs")),
            "b": mint(session, world.settings, DevTokenRequest(backend_b, "system/*.rs")),
            "p1": mint(session, world.settings, DevTokenRequest(app, "patient/*.rs", "one@example.org")),
        }
    for name, token in tokens.items():
        grant = anyio.run(_grant_of, database, token["access_token"])
        assert grant is not None
        world.grants[name] = orjson.loads(orjson.dumps(dataclasses.asdict(grant), default=str))


async def _grant_of(database: Database, token: str) -> BearerGrant | None:
    """What the token grants, as the resource server reads it for a request (kick-off stores it)."""
    try:
        return await live_grant(database, token)
    finally:
        await database.close_async_pool()


def params(world: World, grant: str | None, **changes: Any) -> Json:
    """The params kick-off would store for an export of ``world`` as of its snapshot by the holder of ``grant``."""
    assert world.snapshot is not None
    return {
        "level": "system",
        "group_id": None,
        "types": None,
        "since": None,
        "transaction_time": world.snapshot.isoformat(),
        "type_filters": {},
        "patients": None,
        "elements": None,
        "output_format": "application/fhir+ndjson",
        "request": f"{BASE}/$export",
        "base_url": BASE,
        "grant": None if grant is None else world.grants[grant],
        **changes,
    }


def register_export() -> None:
    """The export kind, as fhir_server.fhir.bulk.job registers it."""
    register("export", run_export, cleanup)


def enqueue(world: World, job_params: Json) -> str:
    with world.database.write() as session:
        job = queue.enqueue(session, "export", job_params, organization_id=None, owner=None, expires_in=None)
        return str(job.id)


def finished(world: World, job_id: str) -> Job:
    with world.database.read() as session:
        job = session.get(Job, uuid.UUID(job_id))
        assert job is not None
        return job


@dataclass
class Export:
    """A finished export: its job, and every file's lines parsed, by file name."""

    job: Job
    directory: Path
    files: dict[str, list[Json]]

    def ids(self, resource_type: str) -> set[str]:
        listed = [f for f in self.job.result["output"] if f["type"] == resource_type] if self.job.result else []
        return {r["id"] for f in listed for r in self.files[f["file"]]}

    def all_lines(self) -> list[Json]:
        return [r for lines in self.files.values() for r in lines]


def export(world: World, job_params: Json, settings: Settings | None = None) -> Export:
    """Run one export through the queue; its job and files."""
    job_id = enqueue(world, job_params)
    register_export()
    assert run_pending(world.database, settings or world.settings, "test-worker") >= 1
    job = finished(world, job_id)
    directory = Path((settings or world.settings).export_dir) / job_id
    files = {p.name: [orjson.loads(line) for line in p.read_bytes().splitlines()] for p in directory.glob("*")}
    return Export(job, directory, files)


@contextmanager
def seeded(database_url: str, export_dir: Path) -> Iterator[World]:
    world = seed(database_url, export_dir)
    try:
        yield world
    finally:
        world.database.dispose()
