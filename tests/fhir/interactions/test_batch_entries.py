"""Batch entries succeed or fail on their own (http://hl7.org/fhir/R4/http.html#brules), a transaction fails whole
when two entries write one resource (http.html#trules), every entry error names the entry's element, and every
response Bundle is valid R4 (bdl-7 included) to the independent validator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client
from tests.fhir.interactions.test_batch import JSON, bundle, patient, post
from tests.fhir_validator import validator_errors


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        clinic_of(client)
        yield client


def request(method: str, url: str, resource: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url, **more}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def found(client: TestClient, identifier: str) -> int:
    """How many Patients carry ``urn:ids|identifier``."""
    total: int = client.get("/fhir/Patient", params={"identifier": f"urn:ids|{identifier}"}).json()["total"]
    return total


def assert_valid(answer: dict[str, Any], tmp_path: Path) -> None:
    assert validator_errors([answer], tmp_path) == []


BAD_ENTRIES: list[tuple[dict[str, Any], str, str]] = [
    (post({**patient("E1"), "birthDate": "1990-13-45"}), "400", "resource.birthDate"),
    (post({**patient("E2"), "gender": "robot"}), "422", "resource.gender"),
    (post({**patient("E3"), "active": "yes"}), "400", "resource.active"),
    (post({**patient("E4"), "gender": None}), "400", "resource.gender"),
    (request("POST", "Patient", {"resourceType": "Observation", "status": "final"}), "400", "resource.resourceType"),
    (request("GET", "Nonsense/1"), "404", "request.url"),
    (request("POST", "Nonsense", {"resourceType": "Nonsense"}), "404", "request.url"),
    (request("GET", "Patient/not$an$id"), "400", "request.url"),
    (request("FETCH", "Patient/x"), "400", "request.method"),
    ({"resource": patient("E5")}, "400", "request"),
    (request("GET", "Patient/does-not-exist"), "404", "request.url"),
    (request("DELETE", "Patient/does-not-exist"), "404", "request.url"),
    (request("PUT", "Patient/e6", {**patient("E6"), "id": "e6"}, ifMatch='W/"3"'), "412", "request.ifMatch"),
    (request("GET", "Patient?_count=nonsense"), "400", "request.url"),
    (
        post(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/nope"},
            }
        ),
        "422",
        "resource.subject",
    ),
]


def test_each_bad_batch_entry_answers_alone_naming_its_element_and_the_others_commit(
    client: TestClient, tmp_path: Path
) -> None:
    body = bundle("batch", post(patient("G1")), *(entry for entry, _, _ in BAD_ENTRIES), post(patient("G2")))
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    entries = answer["entry"]
    assert len(entries) == len(BAD_ENTRIES) + 2
    assert entries[0]["response"]["status"] == entries[-1]["response"]["status"] == "201 Created"
    for n, (_, status, element) in enumerate(BAD_ENTRIES, start=1):
        failed = entries[n]
        assert failed["response"]["status"].startswith(status), (n, failed)
        assert "fullUrl" not in failed and "resource" not in failed
        issues = failed["response"]["outcome"]["issue"]
        assert f"Bundle.entry[{n}].{element}" in [e for i in issues for e in i["expression"]], (n, issues)
        assert all(i["diagnostics"].startswith(f"Bundle.entry[{n}]") for i in issues), (n, issues)
    assert found(client, "G1") == found(client, "G2") == 1
    assert [found(client, f"E{n}") for n in range(1, 7)] == [0] * 6
    assert_valid(answer, tmp_path)


def test_a_transaction_lists_every_bad_entry_and_writes_nothing(client: TestClient) -> None:
    body = bundle(
        "transaction",
        post(patient("H1")),
        post({**patient("H2"), "birthDate": "1990-13-45"}),
        post({**patient("H3"), "active": "yes"}),
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 400, response.text
    expressions = [e for i in response.json()["issue"] for e in i["expression"]]
    assert expressions == ["Bundle.entry[1].resource.birthDate", "Bundle.entry[2].resource.active"]
    assert found(client, "H1") == 0


def test_a_transaction_entry_failing_as_it_runs_names_its_element(client: TestClient) -> None:
    body = bundle("transaction", post(patient("J1")), request("DELETE", "Patient/does-not-exist"))
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 404, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Bundle.entry[1].request.url"]
    assert issue["diagnostics"].startswith("Bundle.entry[1]: ")
    assert found(client, "J1") == 0


def _existing(client: TestClient, identifier: str) -> str:
    created = client.post("/fhir/Patient", json=patient(identifier), headers=JSON)
    assert created.status_code == 201, created.text
    patient_id: str = created.json()["id"]
    return patient_id


OVERLAPS: dict[str, Any] = {
    "two updates of one id": lambda p: [
        request("PUT", "Patient/k-new", {**patient("K9"), "id": "k-new"}),
        request("PUT", "Patient/k-new", {**patient("K9", "Other"), "id": "k-new"}),
    ],
    "an update and a conditional update matching it": lambda p: [
        request("PUT", f"Patient/{p}", {**patient("K1", "Put"), "id": p}),
        request("PUT", "Patient?identifier=urn:ids|K1", patient("K1", "Conditional")),
    ],
    "two conditional deletes matching one": lambda p: [
        request("DELETE", "Patient?identifier=urn:ids|K1"),
        request("DELETE", "Patient?family=Doe&identifier=urn:ids|K1"),
    ],
    "a conditional create matching what a delete removes": lambda p: [
        post(patient("K1"), if_none_exist="identifier=urn:ids|K1"),
        request("DELETE", f"Patient/{p}"),
    ],
    "a patch and an update of one resource": lambda p: [
        request("PATCH", f"Patient/{p}", _name_patch("Patched")),
        request("PUT", f"Patient/{p}", {**patient("K1", "Put"), "id": p}),
    ],
}


def _name_patch(family: str) -> dict[str, Any]:
    operation = [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.name[0].family"},
        {"name": "value", "valueString": family},
    ]
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": operation}]}


@pytest.mark.parametrize("case", list(OVERLAPS))
def test_a_transaction_whose_entries_write_one_resource_fails_naming_both(client: TestClient, case: str) -> None:
    existing = _existing(client, "K1")
    entries = [post(patient("K2")), *OVERLAPS[case](existing)]
    response = client.post("/fhir", json=bundle("transaction", *entries), headers=JSON)
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert [e.split(".request")[0] for e in issue["expression"]] == ["Bundle.entry[1]", "Bundle.entry[2]"]
    assert "Bundle.entry[1] and Bundle.entry[2]" in issue["diagnostics"]
    assert found(client, "K2") == 0 and found(client, "K9") == 0
    assert client.get(f"/fhir/Patient/{existing}").json()["meta"]["versionId"] == "1"


def test_a_transaction_may_read_what_it_writes(client: TestClient, tmp_path: Path) -> None:
    """A read is no write (http.html#trules names steps 1-3): it runs last and sees the update; the response keeps
    bdl-7 (the update repeats the read's fullUrl and version, so it carries no fullUrl)."""
    existing = _existing(client, "L1")
    body = bundle(
        "transaction",
        request("GET", f"Patient/{existing}"),
        request("PUT", f"Patient/{existing}", {**patient("L1", "Put"), "id": existing}),
    )
    response = client.post("/fhir", json=body, headers=JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    read, written = answer["entry"]
    assert read["resource"]["name"][0]["family"] == "Put" and read["resource"]["meta"]["versionId"] == "2"
    assert read["fullUrl"].endswith(f"/Patient/{existing}") and "fullUrl" not in written
    assert_valid(answer, tmp_path)


@pytest.mark.parametrize("prefer", ["return=representation", "return=minimal"])
def test_a_batch_writing_one_resource_twice_runs_both_in_order(client: TestClient, tmp_path: Path, prefer: str) -> None:
    """Each batch entry is its own unit, so overlapping entries are no error there (only transactions forbid them):
    the second update makes version 2. The fullUrl repeats only with the versions beside it (bdl-7)."""
    body = bundle(
        "batch",
        request("PUT", "Patient/twice", {**patient("N1", "First"), "id": "twice"}),
        request("PUT", "Patient/twice", {**patient("N1", "Second"), "id": "twice"}),
        request("GET", "Patient/twice"),
    )
    response = client.post("/fhir", json=body, headers={**JSON, "Prefer": prefer})
    assert response.status_code == 200, response.text
    answer = response.json()
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created", "200 OK", "200 OK"]
    assert [e["response"]["etag"] for e in answer["entry"]] == ['W/"1"', 'W/"2"', 'W/"2"']
    assert client.get("/fhir/Patient/twice").json()["name"][0]["family"] == "Second"
    full_urls = [e.get("fullUrl") for e in answer["entry"]]
    if prefer == "return=minimal":  # the updates carry no version beside their fullUrl to tell them apart
        assert full_urls[0] == full_urls[2] is not None and full_urls[1] is None
    else:
        assert full_urls[0] == full_urls[1] is not None and full_urls[2] is None
    assert_valid(answer, tmp_path)


def test_a_batch_entry_of_malformed_structure_answers_alone_and_a_malformed_bundle_is_refused(
    client: TestClient, tmp_path: Path
) -> None:
    """The Bundle's own R4 structure is checked: an issue inside an entry (a request element of the wrong JSON type,
    an unknown element) is that entry's 400, one outside the entries refuses the Bundle."""
    malformed: list[Any] = [
        request("PUT", "Patient/m1", {**patient("M1"), "id": "m1"}, ifMatch=3),
        request("POST", "Patient", patient("M2"), ifNoneExist=5),
        {**post(patient("M3")), "fullUrl": 7},
        request("GET", "Patient", color="blue"),
        "not an entry",
    ]
    response = client.post("/fhir", json=bundle("batch", *malformed, post(patient("M4"))), headers=JSON)
    assert response.status_code == 200, response.text
    answer = response.json()
    elements = ["request.ifMatch", "request.ifNoneExist", "fullUrl", "request.color", ""]
    for n, element in enumerate(elements):
        failed = answer["entry"][n]["response"]
        assert failed["status"] == "400 Bad Request", (n, failed)
        expected = f"Bundle.entry[{n}].{element}".rstrip(".")
        assert [i["expression"] for i in failed["outcome"]["issue"]] == [[expected]], (n, failed)
    assert answer["entry"][-1]["response"]["status"] == "201 Created"
    assert [found(client, f"M{n}") for n in range(1, 5)] == [0, 0, 0, 1]
    assert_valid(answer, tmp_path)
    refused = client.post("/fhir", json={**bundle("batch", post(patient("M5"))), "colour": "red"}, headers=JSON)
    assert refused.status_code == 400, refused.text
    assert refused.json()["issue"][0]["expression"] == ["Bundle.colour"]
    assert found(client, "M5") == 0


def test_an_empty_batch_answers_an_empty_valid_response(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/fhir", json=bundle("batch"), headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json() == {"resourceType": "Bundle", "type": "batch-response"}
    assert_valid(response.json(), tmp_path)
