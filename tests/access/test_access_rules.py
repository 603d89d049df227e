"""What a token lets a search see: the clinic, the patient's compartment, granular ``?param=value`` restrictions.

A type no scope grants answers 403; the row-level rules confine what a permitted search sees.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.access.records import add_far_patient
from tests.auth.conftest import BASE, Clinic, token_for

_token = token_for


def _ids(client: TestClient, token: str, query: str) -> set[str]:
    response = client.get(f"{BASE}/{query}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"}


@pytest.fixture
def other_clinic_patient(database: Database) -> str:
    return add_far_patient(database)


def test_user_scopes_see_the_clinic_only(
    client: TestClient, database: Database, clinic: Clinic, other_clinic_patient: str
) -> None:
    token = _token(database, clinic, "user/Patient.rs")
    assert _ids(client, token, "Patient") == {"pat-1", "pat-2"}


def test_patient_scopes_see_the_patient_compartment_only(
    client: TestClient, database: Database, clinic: Clinic, other_clinic_patient: str
) -> None:
    token = _token(database, clinic, "patient/Patient.rs", patient="pat-2")
    assert _ids(client, token, "Patient") == {"pat-2"}


def test_a_portal_user_with_user_scopes_sees_only_their_own_record(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    token = _token(database, clinic, "user/Patient.rs", email=clinic.patient_email)
    assert _ids(client, token, "Patient") == {clinic.patient_id}


def test_a_granular_scope_restricts_by_its_token_parameter(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    headers: dict[str, Any] = {"Authorization": f"Bearer {_token(database, clinic, 'user/Patient.cruds')}"}
    current = client.get(f"{BASE}/Patient/pat-2", headers=headers).json()
    updated = client.put(f"{BASE}/Patient/pat-2", json={**current, "gender": "female"}, headers=headers)
    assert updated.status_code == 200, updated.text
    token = _token(database, clinic, "user/Patient.rs?gender=female")
    assert _ids(client, token, "Patient") == {"pat-2"}


def test_a_type_without_a_scope_answers_403_not_an_empty_bundle(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    token = _token(database, clinic, "user/Appointment.rs")
    response = client.get(f"{BASE}/Patient", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert response.json()["issue"][0]["expression"] == ["Patient"]
