"""A patient-scoped token in a batch (http://hl7.org/fhir/R4/http.html#brules): an entry aimed at another patient
fails alone (404 for what the token may not see, 403 for a write beyond its compartment), naming the entry, and
the token's other entries run and commit."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for


def _observation(patient: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _entry(method: str, url: str, resource: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url}}
    return {**entry, "resource": resource} if resource is not None else entry


def test_a_patient_tokens_batch_entry_aimed_at_another_patient_fails_alone(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    patient = {"Authorization": f"Bearer {token_for(database, clinic, 'patient/*.cruds', patient='pat-1')}"}
    entries = [
        _entry("GET", "Patient/pat-1"),
        _entry("GET", "Patient/pat-2"),
        _entry("POST", "Observation", _observation("pat-2", "theirs")),
        _entry("DELETE", "Patient/pat-2"),
        _entry("POST", "Observation", _observation("pat-1", "mine")),
    ]
    body = {"resourceType": "Bundle", "type": "batch", "entry": entries}
    response = client.post(BASE, json=body, headers=patient)
    assert response.status_code == 200, response.text
    answers = response.json()["entry"]
    assert [a["response"]["status"][:3] for a in answers] == ["200", "404", "403", "403", "201"]
    for n in (1, 2, 3):
        issue = answers[n]["response"]["outcome"]["issue"][0]
        assert issue["diagnostics"].startswith(f"Bundle.entry[{n}]"), issue
        assert all(e.startswith(f"Bundle.entry[{n}].") for e in issue["expression"]), issue
    staff = {"Authorization": f"Bearer {token_for(database, clinic, 'user/*.cruds')}"}
    stored = client.get(f"{BASE}/Observation", headers=staff).json()
    assert [e["resource"]["code"]["text"] for e in stored.get("entry", [])] == ["mine"]
    assert client.get(f"{BASE}/Patient/pat-2", headers=staff).status_code == 200
