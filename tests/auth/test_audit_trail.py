"""Every FHIR interaction leaves one row in ``audit_events`` (issue 5 item 8, IHE BALP): who (user and client), what
(interaction, resource, patient), how it ended; a successful write's row commits in the write's own transaction."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import AuditEvent, Patient, User
from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for


def _events(database: Database) -> list[AuditEvent]:
    with database.read() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.request_id.is_not(None))).all()
        return [r for r in rows if r.action not in {"token-issued"}]


def _one(database: Database, request_id: str) -> AuditEvent:
    with database.read() as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)).one()


def _ids(database: Database, clinic: Clinic) -> tuple[Any, Any]:
    with database.read() as session:
        user = session.scalar(select(User.id).where(User.email == clinic.physician_email))
        patient = session.scalar(select(Patient.id).where(Patient.fhir_id == "pat-1"))
    return user, patient


def test_a_read_is_recorded_with_user_client_resource_and_patient(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = {"Authorization": f"Bearer {token_for(database, clinic, 'user/Patient.rs')}", "X-Request-ID": "read-1"}
    assert client.get(f"{BASE}/Patient/pat-1", headers=headers, params={}).status_code == 200
    event = _one(database, "read-1")
    user, patient = _ids(database, clinic)
    assert (event.action, event.resource_type, event.resource_id, event.outcome) == (
        "read",
        "Patient",
        "pat-1",
        "success",
    )
    assert (event.user_id, event.client_id, event.patient_id) == (user, clinic.public_client, patient)
    assert event.organization_id == clinic.organization_id
    assert event.user_agent and event.source_address


def test_a_create_is_recorded_once_with_the_new_id(client: TestClient, database: Database, clinic: Clinic) -> None:
    token = token_for(database, clinic, "patient/*.cruds", patient="pat-1")
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "create-1"}
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T09:30:00Z",
        "participant": [
            {"actor": {"reference": "Patient/pat-1"}, "status": "accepted"},
            {"actor": {"reference": "Practitioner/doc-1"}, "status": "accepted"},
        ],
    }
    created = client.post(f"{BASE}/Appointment", json=body, headers=headers)
    assert created.status_code == 201, created.text
    event = _one(database, "create-1")
    assert (event.action, event.resource_type, event.resource_id) == ("create", "Appointment", created.json()["id"])
    assert event.outcome == "success" and event.detail == {"status": 201}
    assert event.patient_id == _ids(database, clinic)[1]


def test_refusals_and_failures_are_recorded(client: TestClient, database: Database, clinic: Clinic) -> None:
    assert client.get(f"{BASE}/Patient", headers={"X-Request-ID": "anon-1"}).status_code == 401
    anonymous = _one(database, "anon-1")
    assert (anonymous.action, anonymous.outcome, anonymous.user_id) == ("search-type", "minor-failure", None)
    headers = {"Authorization": f"Bearer {token_for(database, clinic, 'user/Patient.rs')}", "X-Request-ID": "del-1"}
    assert client.delete(f"{BASE}/Patient/pat-2", headers=headers).status_code == 403
    refused = _one(database, "del-1")
    assert (refused.action, refused.resource_id, refused.outcome, refused.detail) == (
        "delete",
        "pat-2",
        "minor-failure",
        {"status": 403},
    )


def test_a_transaction_is_recorded_as_one_transaction_event(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.cruds')}", "X-Request-ID": "tx-1"}
    body = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]},
                "request": {"method": "POST", "url": "Practitioner"},
            }
        ],
    }
    response = client.post(BASE, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _one(database, "tx-1").action == "transaction"
    assert len([e for e in _events(database) if e.request_id == "tx-1"]) == 1
