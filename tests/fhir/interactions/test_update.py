"""update: PUT /fhir/{type}/{id} (http://hl7.org/fhir/R4/http.html#update), create-on-update, If-Match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_update_stores_a_new_version(client: TestClient, make_patient: MakePatient, base_url: str) -> None:
    patient = make_patient()
    response = client.put(f"/fhir/Patient/{patient['id']}", json={**patient, "gender": "female"})
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    assert response.json()["gender"] == "female"
    assert response.headers["etag"] == 'W/"2"'
    assert response.headers["content-location"] == f"{base_url}/Patient/{patient['id']}/_history/2"
    assert "location" not in response.headers
    assert client.get(f"/fhir/Patient/{patient['id']}").json() == response.json()


def test_update_keeps_what_the_client_sent(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    extras = {"maritalStatus": {"text": "married"}, "photo": [{"title": "portrait"}]}
    body = client.put(f"/fhir/Patient/{patient['id']}", json={**patient, **extras}).json()
    assert body["maritalStatus"] == extras["maritalStatus"] and body["photo"] == extras["photo"]


def test_update_of_an_unknown_id_creates_it_under_that_id(
    client: TestClient, clinic: dict[str, Any], base_url: str
) -> None:
    resource = {"resourceType": "Patient", "id": "client-chosen-1", "name": [{"family": "Roe", "given": ["Rick"]}]}
    response = client.put("/fhir/Patient/client-chosen-1", json=resource)
    assert response.status_code == 201
    assert response.json()["id"] == "client-chosen-1"
    assert response.json()["meta"]["versionId"] == "1"
    assert response.headers["location"] == f"{base_url}/Patient/client-chosen-1/_history/1"
    assert client.get("/fhir/Patient/client-chosen-1").status_code == 200


def test_update_with_an_id_differing_from_the_url_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    issue = _issue(client.put(f"/fhir/Patient/{patient['id']}", json={**patient, "id": "other"}), 400)
    assert issue["expression"] == ["Patient.id"]


def test_update_without_an_id_in_the_body_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = {k: v for k, v in make_patient().items() if k != "id"}
    response = client.put("/fhir/Patient/whatever", json=patient)
    assert _issue(response, 400)["expression"] == ["Patient.id"]


def test_update_with_another_resource_type_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(f"/fhir/Patient/{patient['id']}", json={**patient, "resourceType": "Organization"})
    assert _issue(response, 400)["expression"] == ["resourceType"]


@pytest.mark.parametrize("bad_id", ["has space", "x" * 65, "under_score"])
def test_update_of_an_invalid_id_is_400(client: TestClient, clinic: dict[str, Any], bad_id: str) -> None:
    resource = {"resourceType": "Patient", "id": bad_id, "name": [{"family": "Roe", "given": ["R"]}]}
    assert _issue(client.put(f"/fhir/Patient/{bad_id}", json=resource), 400)["code"] == "invalid"


def test_if_match_with_the_current_version_updates(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(
        f"/fhir/Patient/{patient['id']}", json={**patient, "gender": "male"}, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 200


def test_if_match_with_another_version_is_412_and_changes_nothing(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    response = client.put(
        f"/fhir/Patient/{patient['id']}", json={**patient, "gender": "male"}, headers={"If-Match": 'W/"5"'}
    )
    assert _issue(response, 412)["code"] == "conflict"
    assert client.get(f"/fhir/Patient/{patient['id']}").json() == patient


def test_if_match_on_an_unknown_resource_is_412(client: TestClient, clinic: dict[str, Any]) -> None:
    resource = {"resourceType": "Patient", "id": "new-one", "name": [{"family": "Roe", "given": ["R"]}]}
    response = client.put("/fhir/Patient/new-one", json=resource, headers={"If-Match": 'W/"1"'})
    assert _issue(response, 412)["code"] == "conflict"
    assert client.get("/fhir/Patient/new-one").status_code == 404


def test_a_malformed_if_match_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(f"/fhir/Patient/{patient['id']}", json=patient, headers={"If-Match": "version one"})
    assert _issue(response, 400)["expression"] == ["If-Match"]


def test_update_after_delete_brings_the_resource_back(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    client.delete(f"/fhir/Patient/{patient['id']}")
    response = client.put(f"/fhir/Patient/{patient['id']}", json=patient)
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["versionId"] == "3"
    assert client.get(f"/fhir/Patient/{patient['id']}").status_code == 200


def test_prefer_minimal_on_update_answers_without_a_body(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(f"/fhir/Patient/{patient['id']}", json=patient, headers={"Prefer": "return=minimal"})
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"].startswith('W/"')


def test_malformed_json_on_update_is_400(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(
        f"/fhir/Patient/{patient['id']}",
        content=b'{"resourceType": ',
        headers={"Content-Type": "application/fhir+json"},
    )
    assert _issue(response, 400)["code"] == "structure"
