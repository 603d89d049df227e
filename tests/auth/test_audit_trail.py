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
    token = token_for(database, clinic, "user/*.cruds", email=clinic.admin_email)  # creates a Practitioner
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "tx-1"}
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


def _officer(database: Database, clinic: Clinic) -> dict[str, str]:
    with database.write() as session:
        officer = User(
            organization_id=clinic.organization_id,
            email="audit@example.org",
            full_name="Audit Officer",
            password_hash="not-a-login",
            role="compliance_officer",
        )
        session.add(officer)
    return {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.rs', email='audit@example.org')}"}


def test_the_trail_is_served_as_balp_audit_events_to_compliance_officers(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    physician = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.rs')}"}
    assert client.get(f"{BASE}/Patient/pat-1", headers=physician).status_code == 200
    officer = _officer(database, clinic)
    bundle = client.get(f"{BASE}/AuditEvent?patient=Patient/pat-1&subtype=read&type=rest", headers=officer).json()
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 1
    event = bundle["entry"][0]["resource"]
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]
    assert event["outcome"] == "0" and event["action"] == "R"
    assert event["agent"][0]["who"] == {"reference": "Practitioner/doc-1"}
    assert event["agent"][1]["who"]["identifier"]["value"] == clinic.public_client
    assert {"reference": "Patient/pat-1"} in [e["what"] for e in event["entity"]]
    assert client.get(f"{BASE}/AuditEvent/{event['id']}", headers=officer).json() == event
    for query in (
        "agent=Practitioner/doc-1",
        "entity=Patient/pat-1",
        "date=ge2020-01-01",
        f"agent={clinic.public_client}",
    ):
        found = client.get(f"{BASE}/AuditEvent?{query}&subtype=read", headers=officer).json()
        assert event["id"] in [e["resource"]["id"] for e in found["entry"]], query
    assert client.get(f"{BASE}/AuditEvent?date=lt2020-01-01", headers=officer).json()["entry"] == []


def test_audit_events_are_refused_to_other_roles_and_checked_like_any_request(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    physician = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.cruds')}"}
    response = client.get(f"{BASE}/AuditEvent", headers=physician)
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    officer = _officer(database, clinic)
    bad = client.get(f"{BASE}/AuditEvent?color=red", headers=officer)
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["expression"] == ["color"]
    assert client.get(f"{BASE}/AuditEvent/not-a-uuid", headers=officer).status_code == 404
    assert client.get(f"{BASE}/AuditEvent?date=tomorrow", headers=officer).status_code == 400
