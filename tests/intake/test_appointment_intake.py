"""An appointment's intake status and supportingInformation follow the intake forms filled in for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Appointment, IntakeForm
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from tests.intake.support import Clinic, created, response


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> Clinic:
    return Clinic.make(client)


def intake_status(database: Database, appointment: str) -> str:
    with database.read() as session:
        row = session.scalars(select(Appointment).where(Appointment.fhir_id == appointment)).one()
        return row.intake_status


def served(client: TestClient, appointment: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/fhir/Appointment/{appointment}").json()
    return body


def test_an_issued_form_makes_the_intake_sent_and_the_appointment_point_at_it(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    assert intake_status(database, clinic.appointment) == "missing"
    form = created(client, response(clinic, status="in-progress", items=[], appointment=clinic.appointment))
    assert intake_status(database, clinic.appointment) == "sent"
    appointment = served(client, clinic.appointment)
    assert appointment["meta"]["versionId"] == "2"
    assert appointment["supportingInformation"] == [{"reference": f"QuestionnaireResponse/{form['id']}"}]


def test_a_completed_form_makes_the_intake_completed(client: TestClient, clinic: Clinic, database: Database) -> None:
    form = created(client, response(clinic, status="in-progress", items=[], appointment=clinic.appointment))
    completed = {**response(clinic, appointment=clinic.appointment), "id": form["id"]}
    assert client.put(f"/fhir/QuestionnaireResponse/{form['id']}", json=completed).status_code == 200
    assert intake_status(database, clinic.appointment) == "completed"
    assert served(client, clinic.appointment)["supportingInformation"] == [
        {"reference": f"QuestionnaireResponse/{form['id']}"}
    ]


def test_deleting_the_form_leaves_the_intake_missing(client: TestClient, clinic: Clinic, database: Database) -> None:
    form = created(client, response(clinic, appointment=clinic.appointment))
    assert client.delete(f"/fhir/QuestionnaireResponse/{form['id']}").status_code in (200, 204)
    assert intake_status(database, clinic.appointment) == "missing"
    appointment = served(client, clinic.appointment)
    assert "supportingInformation" not in appointment
    assert appointment["meta"]["versionId"] == "3"


def test_a_form_moved_to_another_visit_moves_the_intake(client: TestClient, clinic: Clinic, database: Database) -> None:
    other = Clinic.visit(client, clinic.patient, clinic.practitioner, day=8)
    form = created(client, response(clinic, appointment=clinic.appointment))
    moved = {**response(clinic, appointment=other), "id": form["id"]}
    assert client.put(f"/fhir/QuestionnaireResponse/{form['id']}", json=moved).status_code == 200
    assert (intake_status(database, clinic.appointment), intake_status(database, other)) == ("missing", "completed")
    assert "supportingInformation" not in served(client, clinic.appointment)
    assert served(client, other)["supportingInformation"] == [{"reference": f"QuestionnaireResponse/{form['id']}"}]


def test_a_second_form_is_listed_and_any_completed_form_completes_the_intake(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    done = created(client, response(clinic, appointment=clinic.appointment))
    pending = created(client, response(clinic, status="in-progress", items=[], appointment=clinic.appointment))
    assert intake_status(database, clinic.appointment) == "completed"
    references = {e["reference"] for e in served(client, clinic.appointment)["supportingInformation"]}
    assert references == {f"QuestionnaireResponse/{done['id']}", f"QuestionnaireResponse/{pending['id']}"}


def test_an_internal_change_of_a_form_follows_too(client: TestClient, clinic: Clinic, database: Database) -> None:
    form = created(client, response(clinic, status="in-progress", items=[], appointment=clinic.appointment))
    with database.write() as session:
        row = session.scalars(select(IntakeForm).where(IntakeForm.fhir_id == form["id"])).one()
        row.status = "submitted"
    assert intake_status(database, clinic.appointment) == "completed"


def test_a_form_of_no_appointment_changes_no_appointment(client: TestClient, clinic: Clinic) -> None:
    created(client, response(clinic))
    assert served(client, clinic.appointment)["meta"]["versionId"] == "1"


def test_the_appointment_round_trips_with_its_server_set_references(client: TestClient, clinic: Clinic) -> None:
    form = created(client, response(clinic, appointment=clinic.appointment))
    appointment = served(client, clinic.appointment)
    letter = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{clinic.patient}"},
        "content": [{"attachment": {"contentType": "text/plain", "title": "Referral letter"}}],
    }
    other = {"reference": f"DocumentReference/{created(client, letter)['id']}"}
    unlinked = created(client, response(clinic))
    sent = {
        **appointment,
        "supportingInformation": [
            *appointment["supportingInformation"],
            other,
            {"reference": f"QuestionnaireResponse/{unlinked['id']}"},
        ],
    }
    updated = client.put(f"/fhir/Appointment/{clinic.appointment}", json=sent)
    assert updated.status_code == 200, updated.text
    assert served(client, clinic.appointment)["supportingInformation"] == [
        {"reference": f"QuestionnaireResponse/{form['id']}"},
        other,
    ]


def test_appointments_are_found_by_their_intake_form(client: TestClient, clinic: Clinic) -> None:
    form = created(client, response(clinic, appointment=clinic.appointment))
    bundle = client.get("/fhir/Appointment", params={"supporting-info": f"QuestionnaireResponse/{form['id']}"}).json()
    assert [e["resource"]["id"] for e in bundle.get("entry", [])] == [clinic.appointment]


def test_an_internal_move_through_the_relationship_follows_too(
    client: TestClient, clinic: Clinic, database: Database
) -> None:
    other = Clinic.visit(client, clinic.patient, clinic.practitioner, day=8)
    form = created(client, response(clinic, appointment=clinic.appointment))
    with database.write() as session:
        row = session.scalars(select(IntakeForm).where(IntakeForm.fhir_id == form["id"])).one()
        row.appointment = session.scalars(select(Appointment).where(Appointment.fhir_id == other)).one()
    assert (intake_status(database, clinic.appointment), intake_status(database, other)) == ("missing", "completed")
    assert served(client, other)["supportingInformation"] == [{"reference": f"QuestionnaireResponse/{form['id']}"}]
    assert "supportingInformation" not in served(client, clinic.appointment)
