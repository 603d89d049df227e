"""The Bulk Data HTTP layer (https://hl7.org/fhir/uv/bulkdata/STU2/export.html) with authorization on: kick-off
refusals (each 400 names what was wrong), 403/404/429, the status and file URLs answering only to the client that
started the export, cancellation, the audit trail and the CapabilityStatement. One module-scoped app and clinic
world per database; jobs are run by the tests themselves (``run_pending``), not by the server's loop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.app_context import context_of
from fhir_server.auth.clients import register_client
from fhir_server.auth.grants import create_grant, issue_access_token
from fhir_server.db import AuditEvent, Organization, User
from fhir_server.jobs import handlers
from fhir_server.jobs.worker import run_pending
from fhir_server.settings import load_settings
from tests.auth.conftest import REDIRECT, password_hash
from tests.authorized_client import system_token
from tests.backend_services import register_backend
from tests.clinics import add_clinic_at

BASE = "/fhir"
KICK_OFF = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    export_dir: Path

    def headers(self, who: str, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **more}

    def kick_off(self, who: str, path: str = "/$export", **more: Any) -> Any:
        headers = {**KICK_OFF, **self.headers(who), **more.pop("headers", {})}
        return self.client.request(more.pop("method", "GET"), BASE + path, headers=headers, **more)

    def run_jobs(self) -> None:
        app = self.client.app
        context = context_of(app)  # type: ignore[arg-type]
        handlers.load()  # the kinds a worker knows (export among them)
        run_pending(context.database, context.settings, "tests")


def _register(database_url: str, clinic_name: str, scope: str) -> str:
    from fhir_server.db.engine import Database

    database = Database(database_url)
    try:
        with database.write() as session:
            clinic = session.scalars(select(Organization).where(Organization.name == clinic_name)).one()
            return register_backend(session, clinic, scope)
    finally:
        database.dispose()


CLIENTS = {
    "writer": ("A", "system/*.cruds"),
    "a": ("A", "system/*.rs"),
    "a2": ("A", "system/*.rs"),
    "patients_only": ("A", "system/Patient.rs"),
    "busy": ("A", "system/*.rs"),
    "b": ("B", "system/*.rs"),
}


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """Authorization is on in every test here (one module database per database kind, not per mode)."""
    return "on"


@pytest.fixture(scope="module")
def world(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for name in ("A", "B"):
        add_clinic_at(module_database_url, name)
    ids = {who: _register(module_database_url, clinic, scope) for who, (clinic, scope) in CLIENTS.items()}
    export_dir = tmp_path_factory.mktemp("exports")
    settings = load_settings(
        database_url=module_database_url,
        auth="enabled",
        backend_token_lifetime=3600,
        export_dir=export_dir,
        export_max_running=2,
        jobs_in_server=False,
    )
    with TestClient(create_app(settings)) as client:
        tokens = {who: system_token(client, ids[who], CLIENTS[who][1]) for who in CLIENTS}
        world = World(client, tokens, export_dir)
        _seed(world)
        yield world


def _seed(world: World) -> None:
    """Clinic A: patients p1, p2 with an Observation each and Group g1 = [p1]; clinic B: its own Group gb."""
    put = world.client.put
    for patient in ("p1", "p2"):
        resource = {"resourceType": "Patient", "id": patient, "name": [{"family": patient}]}
        assert put(f"{BASE}/Patient/{patient}", json=resource, headers=world.headers("writer")).status_code == 201
        observation = {
            "resourceType": "Observation",
            "id": f"o-{patient}",
            "status": "final",
            "code": {"text": "weight"},
            "subject": {"reference": f"Patient/{patient}"},
        }
        response = put(f"{BASE}/Observation/o-{patient}", json=observation, headers=world.headers("writer"))
        assert response.status_code == 201, response.text
    group = {"resourceType": "Group", "id": "g1", "type": "person", "actual": True}
    group["member"] = [{"entity": {"reference": "Patient/p1"}}]
    assert put(f"{BASE}/Group/g1", json=group, headers=world.headers("writer")).status_code == 201


def _issue(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    issue: dict[str, Any] = body["issue"][0]
    return issue


@pytest.mark.parametrize(
    ("headers", "query", "expression"),
    [
        ({"Prefer": "return=minimal"}, "", "Prefer"),
        ({"Accept": "application/json"}, "", "Accept"),
        ({}, "?_outputFormat=text/csv", "_outputFormat"),
        ({}, "?_since=yesterday", "_since"),
        ({}, "?_since=2024-01-01T10:00:00", "_since"),
        ({}, "?_type=Patient,NoSuchType", "_type"),
        ({}, "?_type=AuditEvent", "_type"),
        ({}, "?includeAssociatedData=LatestProvenanceResources", "includeAssociatedData"),
        ({}, "?_typeFilter=Observation", "_typeFilter"),
        ({}, "?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal", "_typeFilter"),
        ({}, "?_typeFilter=Observation%3Fno-such-parameter%3D1", "no-such-parameter"),
        ({}, "?patient=Patient/p1", "patient"),
    ],
)
def test_a_kick_off_the_server_cannot_honour_is_a_400_naming_what(
    world: World, headers: dict[str, str], query: str, expression: str
) -> None:
    response = world.kick_off("a", f"/$export{query}", headers=headers)
    assert response.status_code == 400, response.text
    issue = _issue(response)
    assert expression in issue.get("expression", []) or expression in issue["diagnostics"], issue


def test_patient_and_group_level_take_patient_by_post_and_compartment_types_only(world: World) -> None:
    post = {"method": "POST", "json": _patient_parameter("Patient/p1")}
    assert world.kick_off("a", "/$export", **post).status_code == 400
    assert world.kick_off("a", "/Patient/$export?patient=Patient/p1").status_code == 400  # GET: not in the URL
    bad = _patient_parameter("Group/g1")
    assert world.kick_off("a", "/Patient/$export", method="POST", json=bad).status_code == 400
    outside = world.kick_off("a", "/Patient/$export?_type=Practitioner,Organization")  # no compartment type
    assert outside.status_code == 400 and _issue(outside)["expression"] == ["_type"], outside.text


def test_lenient_handling_ignores_an_unknown_parameter_and_says_so(world: World) -> None:
    response = world.kick_off(
        "a2", "/$export?_type=Patient&foo=bar", headers={"Prefer": "respond-async, handling=lenient"}
    )
    assert response.status_code == 202, response.text
    issues = response.json()["issue"]
    assert any(i["severity"] == "warning" and i.get("expression") == ["foo"] for i in issues), issues
    _cancel(world, "a2", response)


def test_a_type_the_token_may_not_search_is_a_403_and_an_unknown_group_a_404(world: World) -> None:
    refused = world.kick_off("patients_only", "/$export?_type=Patient,Observation")
    assert refused.status_code == 403, refused.text
    assert _issue(refused)["expression"] == ["Observation"]
    assert world.kick_off("a", "/Group/no-such-group/$export").status_code == 404
    other_clinic = world.kick_off("b", "/Group/g1/$export")  # g1 is clinic A's
    assert other_clinic.status_code == 404, other_clinic.text


def test_a_client_with_too_many_exports_gets_429_with_retry_after(world: World) -> None:
    started = [world.kick_off("busy", "/$export?_type=Patient") for _ in range(2)]
    assert [r.status_code for r in started] == [202, 202]
    refused = world.kick_off("busy", "/$export?_type=Patient")
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert _issue(refused)["code"] == "throttled"
    for response in started:
        _cancel(world, "busy", response)
    assert world.kick_off("busy", "/$export?_type=Patient").status_code == 202  # cancelled ones no longer count


def _cancel(world: World, who: str, kicked_off: Any) -> None:
    response = world.client.delete(kicked_off.headers["Content-Location"], headers=world.headers(who))
    assert response.status_code == 202, response.text


def test_an_export_answers_only_its_client_and_is_cancelled_with_its_files(world: World) -> None:
    kicked_off = world.kick_off("a", "/$export?_type=Patient,Observation,Group")
    assert kicked_off.status_code == 202, kicked_off.text
    status_url = kicked_off.headers["Content-Location"]
    job_id = status_url.rsplit("/", 1)[-1]
    waiting = world.client.get(status_url, headers=world.headers("a"))
    assert waiting.status_code == 202 and waiting.headers["X-Progress"] and int(waiting.headers["Retry-After"]) > 0
    for stranger in ("a2", "b"):  # another client of the same clinic, another clinic's
        assert world.client.get(status_url, headers=world.headers(stranger)).status_code == 404
    world.run_jobs()
    done = world.client.get(status_url, headers=world.headers("a"))
    assert done.status_code == 200, done.text
    assert done.headers["content-type"].startswith("application/json")
    manifest = done.json()
    assert manifest["requiresAccessToken"] is True and manifest["request"].endswith("_type=Patient,Observation,Group")
    assert "deleted" not in manifest  # not a _since export
    counts = {entry["type"]: entry["count"] for entry in manifest["output"]}
    assert counts == {"Patient": 2, "Observation": 2, "Group": 1}, manifest
    url = next(entry["url"] for entry in manifest["output"] if entry["type"] == "Patient")
    plain = world.client.get(url, headers=world.headers("a", **{"Accept-Encoding": "identity"}))
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/fhir+ndjson")
    assert sorted(orjson.loads(line)["id"] for line in plain.content.splitlines()) == ["p1", "p2"]
    zipped = world.client.get(url, headers=world.headers("a", **{"Accept-Encoding": "gzip"}))
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx decoded it
    for stranger in ("a2", "b"):
        assert world.client.get(url, headers=world.headers(stranger)).status_code == 404
        assert world.client.delete(status_url, headers=world.headers(stranger)).status_code == 404
    traversal = url.rsplit("/", 1)[0] + "/..%2F..%2Fsecret"
    assert world.client.get(traversal, headers=world.headers("a")).status_code == 404
    assert (world.export_dir / job_id).is_dir()
    assert world.client.delete(status_url, headers=world.headers("a")).status_code == 202
    assert world.client.get(status_url, headers=world.headers("a")).status_code == 404
    assert world.client.get(url, headers=world.headers("a")).status_code == 404
    assert not (world.export_dir / job_id).exists()
    _audited(world, job_id)


def test_a_group_export_holds_its_members_compartments_only(world: World) -> None:
    kicked_off = world.kick_off("a", "/Group/g1/$export")
    assert kicked_off.status_code == 202, kicked_off.text
    world.run_jobs()
    done = world.client.get(kicked_off.headers["Content-Location"], headers=world.headers("a"))
    assert done.status_code == 200, done.text
    found = {}
    for entry in done.json()["output"]:
        lines = world.client.get(entry["url"], headers=world.headers("a")).content.splitlines()
        found[entry["type"]] = sorted(orjson.loads(line)["id"] for line in lines)
    assert found == {"Patient": ["p1"], "Observation": ["o-p1"], "Group": ["g1"]}, done.json()  # g1 names p1


def test_a_since_export_lists_deletions_in_its_manifest(world: World) -> None:
    temporary = {"resourceType": "Condition", "id": "gone", "subject": {"reference": "Patient/p2"}}
    writer = world.headers("writer")
    assert world.client.put(f"{BASE}/Condition/gone", json=temporary, headers=writer).status_code == 201
    assert world.client.delete(f"{BASE}/Condition/gone", headers=writer).status_code in (200, 204)
    kicked_off = world.kick_off("a", "/$export?_type=Condition&_since=2000-01-01T00:00:00Z")
    assert kicked_off.status_code == 202, kicked_off.text
    world.run_jobs()
    manifest = world.client.get(kicked_off.headers["Content-Location"], headers=world.headers("a")).json()
    assert manifest["output"] == [] and [d["type"] for d in manifest["deleted"]] == ["Bundle"], manifest
    bundle = orjson.loads(world.client.get(manifest["deleted"][0]["url"], headers=world.headers("a")).content)
    assert [e["request"] for e in bundle["entry"]] == [{"method": "DELETE", "url": "Condition/gone"}]


def _audited(world: World, job_id: str) -> None:
    """The kick-off's row names the job; polls, downloads and the cancel are recorded too."""
    context = context_of(world.client.app)  # type: ignore[arg-type]
    with context.database.read() as session:
        rows = session.execute(select(AuditEvent.action, AuditEvent.outcome_detail)).all()
    assert ("$export", f"export job {job_id} queued (system level)") in rows
    assert ("$export-cancel", f"export job {job_id} cancelled") in rows
    actions = {action for action, _ in rows}
    assert {"$export-status", "$export-file"} <= actions


SCOPE = "launch/patient patient/*.rs"


def _patient_parameter(reference: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "patient", "valueReference": {"reference": reference}}],
    }


def test_a_patient_token_cannot_export_another_patient(world: World) -> None:
    headers = {**KICK_OFF, "Authorization": f"Bearer {_patient_token(world, 'p1')}"}
    refused = world.client.post(f"{BASE}/Patient/$export", json=_patient_parameter("Patient/p2"), headers=headers)
    assert refused.status_code == 404, refused.text
    accepted = world.client.post(f"{BASE}/Patient/$export", json=_patient_parameter("Patient/p1"), headers=headers)
    assert accepted.status_code == 202, accepted.text


def test_the_capability_statement_announces_bulk_data(world: World) -> None:
    statement = world.client.get(f"{BASE}/metadata").json()
    rest = statement["rest"][0]
    assert {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"} in rest[
        "operation"
    ]
    by_type = {r["type"]: r for r in rest["resource"]}
    definitions = {t: [o["definition"] for o in by_type[t].get("operation", [])] for t in ("Patient", "Group")}
    assert "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export" in definitions["Patient"]
    assert "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export" in definitions["Group"]
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]


def _patient_token(world: World, patient: str) -> str:
    """A physician's token with ``patient/*.rs`` and ``patient`` in context from an app of clinic A, issued as the
    token endpoint does (grant and token rows)."""
    context = context_of(world.client.app)  # type: ignore[arg-type]
    with context.database.write() as session:
        clinic = session.scalars(select(Organization).where(Organization.name == "A")).one()
        app = register_client(
            session, name="App", client_type="public", organization=clinic, scope=SCOPE, redirect_uris=[REDIRECT]
        )
        user = User(
            organization_id=clinic.id, email="doc@a.example.org", password_hash=password_hash(), role="physician"
        )
        user.full_name = "Doc"
        session.add(user)
        session.flush()
        grant = create_grant(
            session,
            client_id=app.client.client_id,
            user_id=user.id,
            organization_id=clinic.id,
            grant_type="authorization_code",
            scope=SCOPE,
            context={"patient": patient},
        )
        token, _ = issue_access_token(session, grant, SCOPE, 600)
    return token
