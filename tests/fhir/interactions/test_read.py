"""read: GET /fhir/{type}/{id} (http://hl7.org/fhir/R4/http.html#read), with conditional read (304)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_read_returns_the_current_version_with_its_headers(
    client: TestClient, make_patient: MakePatient, base_url: str
) -> None:
    patient = make_patient(birthDate="1980-05-06")
    response = client.get(f"/fhir/Patient/{patient['id']}")
    assert response.status_code == 200
    assert response.json() == patient
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["content-location"] == f"{base_url}/Patient/{patient['id']}/_history/1"
    modified = parsedate_to_datetime(response.headers["last-modified"])
    updated = datetime.fromisoformat(patient["meta"]["lastUpdated"].replace("Z", "+00:00"))
    assert modified == updated.replace(microsecond=0)


def test_read_of_an_unknown_resource_is_404(client: TestClient) -> None:
    assert _issue(client.get("/fhir/Patient/nobody"), 404)["code"] == "not-found"


def test_read_of_a_deleted_resource_is_410(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    client.delete(f"/fhir/Patient/{patient['id']}")
    assert _issue(client.get(f"/fhir/Patient/{patient['id']}"), 410)["code"] == "deleted"


def test_read_of_an_unserved_type_is_404(client: TestClient) -> None:
    assert _issue(client.get("/fhir/Spaceship/1"), 404)["code"] == "not-found"


def test_if_none_match_with_the_current_etag_is_304(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.get(f"/fhir/Patient/{patient['id']}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == 'W/"1"'


def test_if_none_match_with_an_old_etag_reads_the_resource(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    client.put(f"/fhir/Patient/{patient['id']}", json={**patient, "gender": "female"})
    response = client.get(f"/fhir/Patient/{patient['id']}", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 200
    assert response.json()["gender"] == "female"


def test_if_modified_since_is_304_when_unchanged_and_200_when_changed(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    updated = datetime.fromisoformat(patient["meta"]["lastUpdated"].replace("Z", "+00:00"))
    later = format_datetime(updated + timedelta(seconds=5), usegmt=True)
    earlier = format_datetime(updated - timedelta(days=1), usegmt=True)
    url = f"/fhir/Patient/{patient['id']}"
    assert client.get(url, headers={"If-Modified-Since": later}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "not a date"}).status_code == 200


def test_read_with_summary_true_keeps_the_summary_elements_tagged_subsetted(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient(birthDate="1980-05-06", maritalStatus={"text": "married"})
    shown = client.get(f"/fhir/Patient/{patient['id']}", params={"_summary": "true"}).json()
    assert shown["birthDate"] == "1980-05-06" and shown["name"] == patient["name"]
    assert "maritalStatus" not in shown  # not a summary element of Patient
    assert any(tag["code"] == "SUBSETTED" for tag in shown["meta"]["tag"])
    assert client.get(f"/fhir/Patient/{patient['id']}", params={"_summary": "false"}).json() == patient


def test_read_with_summary_tags_subsetted_even_when_nothing_is_left_out(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()  # a name only: every element is a summary element, and there is no narrative
    for mode in ("true", "data"):
        shown = client.get(f"/fhir/Patient/{patient['id']}", params={"_summary": mode}).json()
        assert shown["name"] == patient["name"]
        assert [tag["code"] for tag in shown["meta"]["tag"]] == ["SUBSETTED"]
    assert "tag" not in client.get(f"/fhir/Patient/{patient['id']}", params={"_summary": "false"}).json()["meta"]


def test_read_with_elements_keeps_the_named_and_mandatory_elements(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient(birthDate="1980-05-06", gender="female")
    shown = client.get(f"/fhir/Patient/{patient['id']}", params={"_elements": "gender"}).json()
    assert shown["gender"] == "female" and shown["id"] == patient["id"]
    assert "birthDate" not in shown and "name" not in shown


def test_read_with_summary_count_is_400_naming_the_parameter(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    issue = _issue(client.get(f"/fhir/Patient/{patient['id']}", params={"_summary": "count"}), 400)
    assert issue["expression"] == ["_summary"]


def test_read_of_an_id_no_fast_route_takes_is_still_answered(client: TestClient) -> None:
    """Ids outside FHIR's id syntax are routed the general way and answer the same 404."""
    assert _issue(client.get("/fhir/Patient/not_a~fhir-id"), 404)["code"] == "not-found"
