"""DocumentReference/$docref (US Core 3.1.1): a patient's documents, narrowed by type and care dates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fhir.interactions.conftest import base_url, client, clinic, make_patient

__all__ = ["base_url", "client", "clinic", "make_patient"]

MakePatient = Callable[..., dict[str, Any]]
NOTE = "http://loinc.org|11506-3"
DISCHARGE = "http://loinc.org|18842-5"


def _document(client: TestClient, patient: str, code: str, day: str) -> str:
    system, value = code.split("|")
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": system, "code": value}]},
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "text/plain", "data": "bm90ZQ=="}}],
        "context": {"period": {"start": f"{day}T09:00:00Z", "end": f"{day}T10:00:00Z"}},
    }
    created = client.post("/fhir/DocumentReference", json=resource)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _found(client: TestClient, **params: str) -> set[str]:
    answer = client.get("/fhir/DocumentReference/$docref", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "searchset"
    return {e["resource"]["id"] for e in answer.json().get("entry", [])}


def test_docref_finds_the_patients_documents_by_type_and_care_dates(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient, other = make_patient()["id"], make_patient("Roe")["id"]
    march = _document(client, patient, NOTE, "2026-03-02")
    june = _document(client, patient, DISCHARGE, "2026-06-10")
    _document(client, other, NOTE, "2026-03-02")
    assert _found(client, patient=patient) == {march, june}
    assert _found(client, patient=patient, type=NOTE) == {march}
    assert _found(client, patient=patient, start="2026-05-01") == {june}
    assert _found(client, patient=patient, end="2026-04-01") == {march}
    assert _found(client, patient=patient, start="2026-01-01", end="2026-12-31", **{"on-demand": "true"}) == {
        march,
        june,
    }


def test_docref_refuses_what_it_cannot_answer(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()["id"]
    cases = [
        ({}, "patient"),
        ({"patient": patient, "profile": "http://example.org/ccd"}, "profile"),
        ({"patient": patient, "on-demand": "maybe"}, "on-demand"),
        ({"patient": patient, "author": "x"}, "author"),
    ]
    for params, expression in cases:
        answer = client.get("/fhir/DocumentReference/$docref", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["issue"][0]["expression"] == [expression]
