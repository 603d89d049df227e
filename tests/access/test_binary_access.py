"""Who may download a Binary (http://hl7.org/fhir/R4/binary.html#security): a Binary is in no compartment, so a
patient token reaches one only through its ``securityContext``: the patient, or a resource in the patient's
compartment (the DocumentReference the Binary is the attachment of). The same rule applies to the raw download,
the FHIR JSON read and search; clinic (``user/``) tokens see the clinic's Binaries."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from fhir_server.db.engine import Database
from tests.auth.conftest import BASE, Clinic, token_for

PDF = "application/pdf"


def _headers(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def _upload(client: TestClient, token: str, content: bytes, security_context: str | None = None) -> str:
    extra = {"X-Security-Context": security_context} if security_context else {}
    response = client.post(f"{BASE}/Binary", content=content, headers=_headers(token, **{"Content-Type": PDF}, **extra))
    assert response.status_code == 201, response.text
    return response.headers["location"].split("/Binary/")[1].split("/")[0]


def _document(client: TestClient, token: str, patient: str, binary_id: str) -> dict[str, Any]:
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": PDF, "url": f"Binary/{binary_id}"}}],
    }
    response = client.post(f"{BASE}/DocumentReference", json=document, headers=_headers(token))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_patient_downloads_the_attachment_of_their_own_document(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    staff = token_for(database, clinic, "user/*.cruds")
    binary_id = _upload(client, staff, b"%PDF-1.7 pat-1 lab report")
    document = _document(client, staff, clinic.patient_id, binary_id)
    linked = client.put(
        f"{BASE}/Binary/{binary_id}",
        content=b"%PDF-1.7 pat-1 lab report",
        headers=_headers(staff, **{"Content-Type": PDF, "X-Security-Context": f"DocumentReference/{document['id']}"}),
    )
    assert linked.status_code == 200, linked.text
    patient = token_for(database, clinic, "patient/DocumentReference.rs patient/Binary.rs", patient=clinic.patient_id)
    found = client.get(f"{BASE}/DocumentReference", headers=_headers(patient)).json()
    url = found["entry"][0]["resource"]["content"][0]["attachment"]["url"]
    download = client.get(f"{BASE}/{url}", headers=_headers(patient, Accept=PDF))
    assert download.status_code == 200, download.text
    assert download.content == b"%PDF-1.7 pat-1 lab report"


def test_a_patient_token_aimed_at_another_patients_binary_gets_404(
    client: TestClient, database: Database, clinic: Clinic
) -> None:
    staff = token_for(database, clinic, "user/*.cruds")
    theirs = _upload(client, staff, b"%PDF pat-2", f"Patient/{clinic.other_patient_id}")
    document = _document(client, staff, clinic.other_patient_id, theirs)
    via_document = _upload(client, staff, b"%PDF pat-2 again", f"DocumentReference/{document['id']}")
    nobodys = _upload(client, staff, b"%PDF no context")
    mine = _upload(client, staff, b"%PDF pat-1", f"Patient/{clinic.patient_id}")
    patient = token_for(database, clinic, "patient/*.rs", patient=clinic.patient_id)
    for binary_id in (theirs, via_document, nobodys):
        for accept in (PDF, "application/fhir+json"):
            response = client.get(f"{BASE}/Binary/{binary_id}", headers=_headers(patient, Accept=accept))
            assert response.status_code == 404, (binary_id, accept, response.text)
            assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"{BASE}/Binary/{mine}", headers=_headers(patient)).content == b"%PDF pat-1"
    searched = client.get(f"{BASE}/Binary", headers=_headers(patient)).json()
    assert [e["resource"]["id"] for e in searched.get("entry", [])] == [mine]
    everyone = client.get(f"{BASE}/Binary", headers=_headers(staff)).json()
    assert {e["resource"]["id"] for e in everyone["entry"]} == {theirs, via_document, nobodys, mine}


def test_a_token_without_binary_scope_reads_no_binary(client: TestClient, database: Database, clinic: Clinic) -> None:
    staff = token_for(database, clinic, "user/*.cruds")
    mine = _upload(client, staff, b"%PDF pat-1", f"Patient/{clinic.patient_id}")
    patient = token_for(database, clinic, "patient/DocumentReference.rs", patient=clinic.patient_id)
    response = client.get(f"{BASE}/Binary/{mine}", headers=_headers(patient, Accept=PDF))
    assert response.status_code == 403, response.text
