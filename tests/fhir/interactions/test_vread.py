"""vread: GET /fhir/{type}/{id}/_history/{vid} (http://hl7.org/fhir/R4/http.html#vread)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

MakePatient = Callable[..., dict[str, Any]]


def _issue(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_vread_returns_each_version_as_it_was(client: TestClient, make_patient: MakePatient, base_url: str) -> None:
    first = make_patient(gender="female")
    second = client.put(f"/fhir/Patient/{first['id']}", json={**first, "gender": "male"}).json()

    old = client.get(f"/fhir/Patient/{first['id']}/_history/1")
    new = client.get(f"/fhir/Patient/{first['id']}/_history/2")

    assert old.status_code == 200 and old.json() == first
    assert new.status_code == 200 and new.json() == second
    assert old.headers["etag"] == 'W/"1"'
    assert old.headers["content-location"] == f"{base_url}/Patient/{first['id']}/_history/1"


@pytest.mark.parametrize("version", ["9", "0", "abc", "-1", "99999999999", "0001x", "\u00b2", "9" * 5000])
def test_vread_of_an_unknown_version_is_404(client: TestClient, make_patient: MakePatient, version: str) -> None:
    patient = make_patient()
    assert _issue(client.get(f"/fhir/Patient/{patient['id']}/_history/{version}"), 404)["code"] == "not-found"


def test_vread_of_an_unknown_resource_is_404(client: TestClient) -> None:
    assert _issue(client.get("/fhir/Patient/nobody/_history/1"), 404)["code"] == "not-found"


def test_vread_of_a_deletion_is_410_and_older_versions_stay_readable(
    client: TestClient, make_patient: MakePatient
) -> None:
    patient = make_patient()
    client.delete(f"/fhir/Patient/{patient['id']}")
    assert _issue(client.get(f"/fhir/Patient/{patient['id']}/_history/2"), 410)["code"] == "deleted"
    assert client.get(f"/fhir/Patient/{patient['id']}/_history/1").json() == patient


def test_vread_shows_a_summary_tagged_subsetted(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient(text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Jane</div>'})
    shown = client.get(f"/fhir/Patient/{patient['id']}/_history/1", params={"_summary": "data"}).json()
    assert "text" not in shown and shown["name"] == patient["name"]
    assert any(tag["code"] == "SUBSETTED" for tag in shown["meta"]["tag"])
