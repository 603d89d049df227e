"""Who may use the terminology: the server's published CodeSystems, ValueSets and ConceptMaps hold no one's data, so
every caller with a live token (a patient's app included) reads, searches, expands and translates with them; a
caller without one is refused (401); a ValueSet another clinic stored is beyond a token of this clinic (404), by
read and by every operation, as any of that clinic's resources is."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import Organization, User
from fhir_server.db.engine import Database
from tests.access.records import add_far_practitioner
from tests.auth.conftest import BASE, Clinic, _row, password_hash, token_for

GENDER = "http://hl7.org/fhir/administrative-gender"
PATIENT_SCOPE = "patient/*.rs"
FAR_ADMIN = "far-admin@example.org"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _value_set(url: str) -> dict[str, Any]:
    include = {"system": GENDER, "concept": [{"code": "female"}]}
    return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [include]}}


@pytest.fixture
def patient(database: Database, clinic: Clinic) -> dict[str, str]:
    """The headers of a patient's app of the clinic (``patient/*.rs`` for pat-1)."""
    return _bearer(token_for(database, clinic, PATIENT_SCOPE, email=clinic.patient_email, patient=clinic.patient_id))


@pytest.fixture
def far_value_set(client: TestClient, database: Database, clinic: Clinic) -> str:
    """A ValueSet stored by another clinic (by its admin, through FHIR); its id."""
    add_far_practitioner(database)  # makes the clinic "Elsewhere Clinic"
    with database.write() as session:
        far = session.scalars(select(Organization).where(Organization.fhir_id == "elsewhere")).one()
        _row(session, User, organization_id=far.id, email=FAR_ADMIN, password_hash=password_hash(), role="admin")
    admin = _bearer(token_for(database, clinic, "user/*.cruds", email=FAR_ADMIN))
    created = client.post(f"{BASE}/ValueSet", json=_value_set("http://far.example.org/vs"), headers=admin)
    assert created.status_code == 201, created.text
    resource_id: str = created.json()["id"]
    return resource_id


def test_a_patient_app_uses_the_published_terminology(client: TestClient, patient: dict[str, str]) -> None:
    for path, params in [
        ("ValueSet/administrative-gender", {}),
        ("CodeSystem", {"url": GENDER}),
        ("ValueSet/administrative-gender/$expand", {"filter": "fem"}),
        ("CodeSystem/$lookup", {"system": GENDER, "code": "male"}),
        ("ValueSet/administrative-gender/$validate-code", {"system": GENDER, "code": "male"}),
        (
            "ConceptMap/appointment-status/$translate",
            {"system": "http://hl7.org/fhir/appointmentstatus", "code": "noshow", "reverse": "true"},
        ),
    ]:
        response = client.get(f"{BASE}/{path}", params=params, headers=patient)
        assert response.status_code == 200, f"{path}: {response.text}"


@pytest.mark.usefixtures("clinic")
def test_terminology_needs_a_live_token(client: TestClient) -> None:
    for path in (
        "ValueSet/administrative-gender",
        "CodeSystem?url=x",
        f"ValueSet/$expand?url={GENDER}",
        f"CodeSystem/$lookup?system={GENDER}&code=male",
        "ConceptMap/$translate?code=noshow",
    ):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 401, f"{path}: {response.text}"
        assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"{BASE}/ValueSet/administrative-gender", headers=_bearer("not-a-token")).status_code == 401


def test_a_patient_cannot_reach_another_clinics_value_set(
    client: TestClient, patient: dict[str, str], far_value_set: str
) -> None:
    for path in (
        f"ValueSet/{far_value_set}",
        f"ValueSet/{far_value_set}/$expand",
        f"ValueSet/{far_value_set}/$validate-code?system={GENDER}&code=female",
    ):
        response = client.get(f"{BASE}/{path}", headers=patient)
        assert response.status_code == 404, f"{path}: {response.text}"
        assert response.json()["issue"][0]["code"] == "not-found"
    found = client.get(f"{BASE}/ValueSet", params={"url": "http://far.example.org/vs"}, headers=patient).json()
    assert found["total"] == 0


def test_a_patient_expands_a_value_set_of_its_own_clinic(
    client: TestClient, database: Database, clinic: Clinic, patient: dict[str, str]
) -> None:
    admin = _bearer(token_for(database, clinic, "user/*.cruds", email=clinic.admin_email))
    created = client.post(f"{BASE}/ValueSet", json=_value_set("http://near.example.org/vs"), headers=admin)
    assert created.status_code == 201, created.text
    expanded = client.get(f"{BASE}/ValueSet/{created.json()['id']}/$expand", headers=patient)
    assert expanded.status_code == 200, expanded.text
    assert [c["code"] for c in expanded.json()["expansion"]["contains"]] == ["female"]
