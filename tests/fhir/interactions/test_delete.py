"""delete: DELETE /fhir/{type}/{id} (http://hl7.org/fhir/R4/http.html#delete)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_returns_410_after_delete(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    response = client.delete(f"/fhir/Patient/{patient['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert _issue(client.get(f"/fhir/Patient/{patient['id']}"), 410)["code"] == "deleted"


def test_deleting_twice_succeeds_without_a_new_version(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code == 204
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code == 204
    assert client.get(f"/fhir/Patient/{patient['id']}/_history").json()["total"] == 2


def test_deleting_an_unknown_resource_is_404(client: TestClient) -> None:
    assert _issue(client.delete("/fhir/Patient/nobody"), 404)["code"] == "not-found"


def test_delete_with_a_stale_if_match_is_412_and_keeps_the_resource(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    response = client.delete(f"/fhir/Patient/{patient['id']}", headers={"If-Match": 'W/"3"'})
    assert _issue(response, 412)["code"] == "conflict"
    assert client.get(f"/fhir/Patient/{patient['id']}").status_code == 200


def test_delete_with_the_current_if_match_deletes(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    assert client.delete(f"/fhir/Patient/{patient['id']}", headers={"If-Match": 'W/"1"'}).status_code == 204


def test_old_versions_stay_readable_after_delete(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    client.delete(f"/fhir/Patient/{patient['id']}")
    assert client.get(f"/fhir/Patient/{patient['id']}/_history/1").json() == patient


def test_deleting_an_unserved_type_is_404(client: TestClient) -> None:
    assert _issue(client.delete("/fhir/Spaceship/1"), 404)["code"] == "not-found"
