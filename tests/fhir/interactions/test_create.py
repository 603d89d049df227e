"""create: POST /fhir/{type} (http://hl7.org/fhir/R4/http.html#create)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]
PATIENT = {"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Jane"]}], "gender": "female"}


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_create_answers_201_with_location_etag_and_the_stored_resource(
    client: TestClient, clinic: dict[str, Any], base_url: str
) -> None:
    response = client.post("/fhir/Patient", json=PATIENT)
    assert response.status_code == 201
    body = response.json()
    assert body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"]
    assert body["gender"] == "female" and body["name"] == PATIENT["name"]
    assert response.headers["location"] == f"{base_url}/Patient/{body['id']}/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["last-modified"]
    assert client.get(f"/fhir/Patient/{body['id']}").json() == body


def test_create_ignores_the_clients_id(client: TestClient, clinic: dict[str, Any]) -> None:
    response = client.post("/fhir/Patient", json={**PATIENT, "id": "chosen-by-client"})
    assert response.status_code == 201
    assert response.json()["id"] != "chosen-by-client"
    assert client.get("/fhir/Patient/chosen-by-client").status_code == 404


def test_prefer_minimal_answers_201_without_a_body(client: TestClient, clinic: dict[str, Any]) -> None:
    response = client.post("/fhir/Patient", json=PATIENT, headers={"Prefer": "return=minimal"})
    assert response.status_code == 201
    assert response.content == b""
    assert "/Patient/" in response.headers["location"]


def test_prefer_operation_outcome_answers_with_an_outcome(client: TestClient, clinic: dict[str, Any]) -> None:
    response = client.post("/fhir/Patient", json=PATIENT, headers={"Prefer": "return=OperationOutcome"})
    assert response.status_code == 201
    assert response.json()["resourceType"] == "OperationOutcome"
    assert response.json()["issue"][0]["severity"] == "information"


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"{not json", "structure"), (b"", "required"), (b"[1, 2]", "structure"), (b'"Patient"', "structure")],
)
def test_a_body_that_is_not_a_json_resource_is_400(client: TestClient, body: bytes, code: str) -> None:
    response = client.post("/fhir/Patient", content=body, headers={"Content-Type": "application/fhir+json"})
    assert _issue(response, 400)["code"] == code


def test_a_resource_of_another_type_is_400(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json={"resourceType": "Organization", "name": "X"})
    assert _issue(response, 400)["expression"] == ["resourceType"]


def test_a_missing_resource_type_is_400(client: TestClient) -> None:
    assert _issue(client.post("/fhir/Patient", json={"gender": "male"}), 400)["expression"] == ["resourceType"]


def test_an_unknown_element_is_400_naming_it(client: TestClient, clinic: dict[str, Any]) -> None:
    issue = _issue(client.post("/fhir/Patient", json={**PATIENT, "colour": "blue"}), 400)
    assert issue["expression"] == ["Patient.colour"]


def test_a_wrongly_typed_element_is_400_naming_it(client: TestClient, clinic: dict[str, Any]) -> None:
    issue = _issue(client.post("/fhir/Patient", json={**PATIENT, "birthDate": "yesterday"}), 400)
    assert issue["expression"] == ["Patient.birthDate"]


def test_a_patient_without_a_name_is_valid_r4_and_kept(client: TestClient, clinic: dict[str, Any]) -> None:
    """The clinic's name columns stay empty; R4 requires no name (issue 14: mapped types take every valid resource)."""
    created = client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "male"})
    assert created.status_code == 201, created.text
    assert "name" not in created.json()
    assert client.get(f"/fhir/Patient/{created.json()['id']}").json() == created.json()


def test_an_xml_body_is_415(client: TestClient) -> None:
    response = client.post("/fhir/Patient", content=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"})
    assert _issue(response, 415)["code"] == "not-supported"


def test_a_body_without_content_type_is_415(client: TestClient) -> None:
    response = client.post("/fhir/Patient", content=b"{}")
    assert _issue(response, 415)["code"] == "not-supported"


def test_create_of_an_unserved_type_is_404(client: TestClient) -> None:
    assert _issue(client.post("/fhir/Spaceship", json={"resourceType": "Spaceship"}), 404)["code"] == "not-found"


def test_a_failed_create_stores_nothing(client: TestClient, clinic: dict[str, Any]) -> None:
    client.post("/fhir/Patient", json={**PATIENT, "managingOrganization": {"reference": "Organization/nowhere"}})
    history = client.get("/fhir/Patient/_history").json()
    assert history["entry"] == []
