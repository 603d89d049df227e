"""The resource store serves every R4 type without a clinic table with the interactions of a mapped type:
create, read, vread, update, delete, history and conditional writes (http://hl7.org/fhir/R4/http.html)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def observation(patient_id: str, value: float = 72.0) -> dict[str, Any]:
    """A heart-rate vital sign of ``patient_id`` shaped as US Core does."""
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": "2026-11-02T09:30:00Z",
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }


def test_a_stored_type_is_created_read_and_found_like_a_mapped_one(
    client: TestClient, make_patient: MakePatient, base_url: str
) -> None:
    patient = make_patient()
    sent = observation(patient["id"])
    created = client.post("/fhir/Observation", json=sent)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["meta"]["versionId"] == "1"
    assert created.headers["location"] == f"{base_url}/Observation/{body['id']}/_history/1"
    assert {k: v for k, v in body.items() if k not in ("id", "meta")} == sent
    assert client.get(f"/fhir/Observation/{body['id']}").json() == body
    found = client.get("/fhir/Observation", params={"patient": patient["id"], "code": "http://loinc.org|8867-4"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [body["id"]]


def test_updates_make_versions_and_a_delete_answers_410(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    first = client.post("/fhir/Observation", json=observation(patient["id"])).json()
    second = client.put(f"/fhir/Observation/{first['id']}", json={**observation(patient["id"], 80), "id": first["id"]})
    assert second.status_code == 200, second.text
    assert second.json()["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Observation/{first['id']}/_history/1").json() == first
    history = client.get(f"/fhir/Observation/{first['id']}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert client.delete(f"/fhir/Observation/{first['id']}").status_code in (200, 204)
    assert client.get(f"/fhir/Observation/{first['id']}").status_code == 410
    assert client.get("/fhir/Observation", params={"patient": patient["id"]}).json().get("entry", []) == []
