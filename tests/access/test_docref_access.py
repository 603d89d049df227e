"""DocumentReference/$docref under a patient token: it is a search of DocumentReference with the caller's access rules,
so a patient aimed at another patient's documents finds none."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for


def _note(client: TestClient, token: str, patient: str) -> str:
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "bm90ZQ=="}}],
    }
    response = client.post(f"{BASE}/DocumentReference", json=document, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_patient_token_finds_only_its_own_documents_through_docref(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    staff = token_for(database, clinic, "user/*.cruds")
    own = _note(client, staff, clinic.patient_id)
    _note(client, staff, clinic.other_patient_id)
    patient = token_for(database, clinic, "patient/DocumentReference.rs", patient=clinic.patient_id)
    headers = {"Authorization": f"Bearer {patient}"}

    def found(patient_id: str) -> list[str]:
        answer = client.get(f"{BASE}/DocumentReference/$docref", params={"patient": patient_id}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [e["resource"]["id"] for e in answer.json().get("entry", [])]

    assert found(clinic.patient_id) == [own]
    assert found(clinic.other_patient_id) == []
