"""HTTP behaviour shared by every interaction (http://hl7.org/fhir/R4/http.html): formats, errors, methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


@pytest.mark.parametrize(
    "fmt", ["json", "application/fhir+json", "application/json", "application/fhir+json;charset=utf-8"]
)
def test_every_json_format_is_served(client: TestClient, make_patient: MakePatient, fmt: str) -> None:
    patient = make_patient()
    response = client.get(f"/fhir/Patient/{patient['id']}", params={"_format": fmt})
    assert response.status_code == 200
    assert response.json()["id"] == patient["id"]


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "text/turtle"])
def test_a_format_other_than_json_is_406(client: TestClient, make_patient: MakePatient, fmt: str) -> None:
    patient = make_patient()
    issue = _issue(client.get(f"/fhir/Patient/{patient['id']}", params={"_format": fmt}), 406)
    assert issue["expression"] == ["_format"]


@pytest.mark.parametrize("accept", ["application/fhir+xml", "application/xml", "text/plain"])
def test_an_accept_header_without_json_is_406(client: TestClient, make_patient: MakePatient, accept: str) -> None:
    patient = make_patient()
    assert _issue(client.get(f"/fhir/Patient/{patient['id']}", headers={"Accept": accept}), 406)["code"] == (
        "not-supported"
    )


@pytest.mark.parametrize("accept", ["*/*", "application/fhir+json", "application/json, application/fhir+xml;q=0.5"])
def test_an_accept_header_allowing_json_is_served(client: TestClient, make_patient: MakePatient, accept: str) -> None:
    patient = make_patient()
    assert client.get(f"/fhir/Patient/{patient['id']}", headers={"Accept": accept}).status_code == 200


def test_format_wins_over_accept(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.get(
        f"/fhir/Patient/{patient['id']}", params={"_format": "json"}, headers={"Accept": "application/fhir+xml"}
    )
    assert response.status_code == 200


def test_pretty_indents_and_compact_does_not(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    pretty = client.get(f"/fhir/Patient/{patient['id']}", params={"_pretty": "true"})
    compact = client.get(f"/fhir/Patient/{patient['id']}")
    assert "\n  " in pretty.text and "\n" not in compact.text
    assert pretty.json() == compact.json()


def test_an_unsupported_method_is_405_with_an_outcome(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    assert _issue(client.post(f"/fhir/Patient/{patient['id']}", json=patient), 405)["code"] == "not-supported"
    assert _issue(client.delete("/fhir/Patient/x/_history/1"), 405)["code"] == "not-supported"


def test_an_unknown_path_is_404_with_an_outcome(client: TestClient) -> None:
    assert _issue(client.get("/fhir/Patient/1/_history/1/extra/more"), 404)["code"] == "not-found"


def test_errors_are_rendered_pretty_on_request(client: TestClient) -> None:
    response = client.get("/fhir/Patient/nobody", params={"_pretty": "true"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_an_xml_body_on_update_is_415(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(
        f"/fhir/Patient/{patient['id']}", content=b"<Patient/>", headers={"Content-Type": "application/xml"}
    )
    assert _issue(response, 415)["code"] == "not-supported"


def test_a_json_body_with_charset_is_accepted(client: TestClient, clinic: dict[str, Any]) -> None:
    body = b'{"resourceType": "Patient", "name": [{"family": "M\xc3\xbcller", "given": ["J"]}]}'
    response = client.post(
        "/fhir/Patient", content=body, headers={"Content-Type": "application/fhir+json; charset=utf-8"}
    )
    assert response.status_code == 201
    assert response.json()["name"][0]["family"] == "Müller"


def test_version_headers_use_the_public_base_url(client: TestClient, make_patient: MakePatient, base_url: str) -> None:
    patient = make_patient()
    response = client.get(f"/fhir/Patient/{patient['id']}")
    assert response.headers["content-location"].startswith(base_url + "/Patient/")


def test_a_bare_etag_is_understood_like_a_weak_one(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.put(f"/fhir/Patient/{patient['id']}", json=patient, headers={"If-Match": '"1"'})
    assert response.status_code == 200
