"""Batch and transaction Bundles (http://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.app import create_app
from fhir_server.settings import load_settings
from mappings.patient import MRN_SYSTEM
from tests.authorized_client import clinic_of, fhir_client
from tests.clinics import make_clinic

JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning", bundle_max_entries=5) as client:
        clinic_of(client)
        yield client


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post(resource: dict[str, Any], full_url: str | None = None, if_none_exist: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    if if_none_exist:
        entry["request"]["ifNoneExist"] = if_none_exist
    return entry


def patient(value: str, family: str = "Doe") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:ids", "value": value}],
        "name": [{"family": family}],
    }


def practitioner() -> dict[str, Any]:
    return {"resourceType": "Practitioner", "name": [{"family": "Hart", "given": ["Amelia"]}]}


def appointment(patient_ref: str, practitioner_ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2026-12-01T09:00:00Z",
        "end": "2026-12-01T09:30:00Z",
        "participant": [
            {"actor": {"reference": patient_ref}, "status": "accepted"},
            {"actor": {"reference": practitioner_ref}, "status": "accepted"},
        ],
    }


def test_transaction_resolves_urn_uuid_references_in_dependency_order(client: TestClient) -> None:
    body = bundle(
        "transaction",
        post(appointment("urn:uuid:p-1", "urn:uuid:d-1"), "urn:uuid:a-1"),  # listed before its targets
        post(patient("T1"), "urn:uuid:p-1"),
        post(practitioner(), "urn:uuid:d-1"),
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created"] * 3
    stored = result["entry"][0]["resource"]
    patient_id = result["entry"][1]["resource"]["id"]
    assert stored["participant"][0]["actor"]["reference"] == f"Patient/{patient_id}"
    assert result["entry"][1]["response"]["location"].startswith(f"Patient/{patient_id}/_history/1")


def test_a_failing_entry_rolls_back_the_whole_transaction(client: TestClient) -> None:
    body = bundle(
        "transaction",
        post(patient("T2"), "urn:uuid:p-2"),
        {"request": {"method": "DELETE", "url": "Patient/does-not-exist"}},
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 404
    assert response.json()["issue"][0]["diagnostics"].startswith("Bundle.entry[1]")
    assert client.get("/fhir/Patient", params={"identifier": "urn:ids|T2"}).json()["total"] == 0


def test_transaction_conditional_create_and_conditional_reference(client: TestClient) -> None:
    client.post("/fhir/Patient", json=patient("T3"), headers=JSON)
    body = bundle(
        "transaction",
        post(patient("T3", "Ignored"), "urn:uuid:p-3", if_none_exist="identifier=urn:ids|T3"),
        post(practitioner(), "urn:uuid:d-3"),
        post(appointment("Patient?identifier=urn:ids|T3", "urn:uuid:d-3")),
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    assert entries[0]["resource"]["name"][0]["family"] == "Doe"
    assert entries[2]["resource"]["participant"][0]["actor"]["reference"] == f"Patient/{entries[0]['resource']['id']}"


def test_transaction_processes_deletes_before_creates_and_gets_last(client: TestClient) -> None:
    old = client.post("/fhir/Patient", json=patient("T4"), headers=JSON).json()
    body = bundle(
        "transaction",
        {"request": {"method": "GET", "url": f"Patient/{old['id']}"}},
        post(patient("T4-new")),
        {"request": {"method": "DELETE", "url": f"Patient/{old['id']}"}},
    )
    response = client.post("/fhir", json=body, headers=JSON)
    # the GET runs after the DELETE, so it fails and the transaction fails with it
    assert response.status_code == 410


def test_transaction_put_with_if_match_and_patch(client: TestClient) -> None:
    """An update with If-Match and a JSON Patch in one transaction (of two resources: a transaction writes each
    resource once, http.html#trules)."""
    put = client.post("/fhir/Patient", json=patient("T5"), headers=JSON).json()
    patched = client.post("/fhir/Patient", json=patient("T5b"), headers=JSON).json()
    patch = [{"op": "replace", "path": "/name/0/family", "value": "Patched"}]
    body = bundle(
        "transaction",
        {
            "resource": {**patient("T5", "Put"), "id": put["id"]},
            "request": {"method": "PUT", "url": f"Patient/{put['id']}", "ifMatch": 'W/"1"'},
        },
        {
            "resource": {
                "resourceType": "Binary",
                "contentType": "application/json-patch+json",
                "data": base64.b64encode(orjson.dumps(patch)).decode(),
            },
            "request": {"method": "PATCH", "url": f"Patient/{patched['id']}"},
        },
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200, response.text
    current = client.get(f"/fhir/Patient/{put['id']}").json()
    assert current["name"][0]["family"] == "Put"
    assert current["meta"]["versionId"] == "2"
    current = client.get(f"/fhir/Patient/{patched['id']}").json()
    assert current["name"][0]["family"] == "Patched"
    assert current["meta"]["versionId"] == "2"


def test_transaction_if_match_conflict_is_412(client: TestClient) -> None:
    created = client.post("/fhir/Patient", json=patient("T6"), headers=JSON).json()
    body = bundle(
        "transaction",
        {
            "resource": {**patient("T6"), "id": created["id"]},
            "request": {"method": "PUT", "url": f"Patient/{created['id']}", "ifMatch": 'W/"9"'},
        },
    )
    assert client.post("/fhir", json=body, headers=JSON).status_code == 412


def test_an_invalid_entry_resource_is_named_where_it_sits_in_the_bundle(client: TestClient) -> None:
    body = bundle("transaction", post(patient("V1")), post({**patient("V2"), "gender": None, "active": "yes"}))
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]
    assert [i["expression"] for i in issues] == [
        ["Bundle.entry[1].resource.gender"],
        ["Bundle.entry[1].resource.active"],
    ]
    assert issues[0]["diagnostics"] == "Bundle.entry[1].resource.gender: null is not allowed"
    assert client.get("/fhir/Patient", params={"identifier": "urn:ids|V1"}).json().get("entry", []) == []


def test_batch_entries_succeed_or_fail_on_their_own(client: TestClient) -> None:
    body = bundle(
        "batch",
        post(patient("B1")),
        {"request": {"method": "GET", "url": "Patient/nope"}},
        post({"resourceType": "Patient", "identifier": [{"system": MRN_SYSTEM, "value": "B2"}]}),  # the server's MRN
        {"request": {"method": "GET", "url": "Patient?identifier=urn:ids|B1"}},
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == [
        "201 Created",
        "404 Not Found",
        "422 Unprocessable Entity",
        "200 OK",
    ]
    assert entries[1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[3]["resource"]["total"] == 1


def test_too_many_entries_is_413(client: TestClient) -> None:
    body = bundle("batch", *[post(patient(f"X{i}")) for i in range(6)])
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 413
    assert response.json()["issue"][0]["code"] == "too-costly"


@pytest.mark.parametrize(
    ("body", "status", "expression"),
    [
        ({"resourceType": "Patient"}, 400, "Bundle"),
        ({"resourceType": "Bundle", "type": "collection"}, 400, "Bundle.type"),
        ({"resourceType": "Bundle", "type": "batch", "entry": {"request": {}}}, 400, "Bundle.entry"),
        (
            {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}}]},
            400,
            "Bundle.entry[0].request",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"request": {"method": "POST", "url": "Patient"}}],
            },
            400,
            "Bundle.entry[0].resource",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"request": {"method": "GET", "url": "Nonsense/1"}}],
            },
            404,
            "Bundle.entry[0].request.url",
        ),
    ],
)
def test_malformed_bundles_are_refused(client: TestClient, body: dict[str, Any], status: int, expression: str) -> None:
    """A malformed Bundle is 400 naming the element; a transaction whose entry fails fails whole with that entry's
    status (here 404, an unknown type), naming the entry's element (a batch answers it in that entry alone:
    tests/fhir/interactions/test_batch_entries.py)."""
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] in ({"invalid", "structure"} if status == 400 else {"not-found"})
    assert issue.get("expression") == [expression]


def test_a_transaction_creating_patients_gives_them_consecutive_mrns_and_each_its_own(client: TestClient) -> None:
    body = bundle("transaction", *(post(patient(f"M{n}", f"Mrn{n}")) for n in range(4)))
    answer = client.post("/fhir", json=body, headers=JSON)
    assert answer.status_code == 200, answer.text
    mrns = []
    for entry in answer.json()["entry"]:
        stored = client.get("/fhir/" + entry["response"]["location"].split("/_history")[0]).json()
        mrns += [
            i["value"] for i in stored["identifier"] if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR"
        ]
    numbers = sorted(int(m.rsplit("-", 1)[1]) for m in mrns)
    assert len(numbers) == 4 and numbers == list(range(numbers[0], numbers[0] + 4))


def test_a_transaction_giving_two_imaging_studies_one_study_uid_is_refused_naming_it(client: TestClient) -> None:
    subject = "urn:uuid:0b7c6f2e-3f4a-4d55-9a61-2c8e5d1f7a90"
    uid = {"system": "urn:dicom:uid", "value": "urn:oid:2.25.1234567893"}
    study = {
        "resourceType": "ImagingStudy",
        "status": "available",
        "subject": {"reference": subject},
        "identifier": [uid],
    }
    body = bundle("transaction", post(patient("U1"), subject), post(study), post(study))
    answer = client.post("/fhir", json=body, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "already belongs to another ImagingStudy" in answer.text
    assert client.get("/fhir/ImagingStudy").json().get("total") == 0
    assert client.get("/fhir/Patient").json().get("total") == 0


def test_a_transaction_giving_two_practitioners_one_npi_creates_both(client: TestClient) -> None:
    npi = {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}
    twins = [{**practitioner(), "identifier": [npi]} for _ in range(2)]
    answer = client.post("/fhir", json=bundle("transaction", *(post(t) for t in twins)), headers=JSON)
    assert answer.status_code == 200, answer.text
    assert (
        client.get("/fhir/Practitioner", params={"identifier": "http://hl7.org/fhir/sid/us-npi|1234567893"}).json()[
            "total"
        ]
        == 2
    )


def test_a_transaction_creating_a_lab_and_a_patient_files_both_in_the_only_clinic(database_url: str) -> None:
    """Issue 14: an Organization in a transaction is data of the clinic, never a clinic (before, it was the first
    clinic, and the patient beside it was filed there)."""
    settings = load_settings(database_url=database_url, log_level="warning")
    with TestClient(create_app(settings)) as fresh:
        clinic = make_clinic(fresh, "First Clinic")
        lab = {"resourceType": "Organization", "name": "Quest Lab"}
        body = bundle("transaction", post(lab, "urn:uuid:7c1d2a2e-4f43-4b3e-9d0e-1f5a8c3b2d10"), post(patient("F1")))
        answer = fresh.post("/fhir", json=body, headers=JSON)
        assert answer.status_code == 200, answer.text
        lab_id = answer.json()["entry"][0]["response"]["location"].split("/")[1]
        stored = fresh.get("/fhir/Patient", params={"identifier": "urn:ids|F1"}).json()["entry"][0]["resource"]
        assert stored["managingOrganization"]["reference"] == f"Organization/{clinic['id']}"
        found = fresh.get("/fhir/Organization", params={"_id": lab_id}).json()
        assert [e["resource"]["name"] for e in found["entry"]] == ["Quest Lab"]
