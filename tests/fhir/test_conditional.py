"""Conditional create, update and delete (http://hl7.org/fhir/R4/http.html#ccreate), race-free on both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of, fhir_client

JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        clinic_of(client)
        yield client


def patient(value: str, family: str = "Doe") -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "http://example.org/ids", "value": value}],
        "name": [{"family": family}],
    }


def test_conditional_create_makes_one_then_returns_it(client: TestClient) -> None:
    headers = {**JSON, "If-None-Exist": "identifier=http://example.org/ids|A1"}
    first = client.post("/fhir/Patient", json=patient("A1"), headers=headers)
    second = client.post("/fhir/Patient", json=patient("A1", "Other"), headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["name"][0]["family"] == "Doe"  # the existing resource, unchanged


def test_conditional_create_with_several_matches_is_412(client: TestClient) -> None:
    client.post("/fhir/Patient", json=patient("B1", "Twin"), headers=JSON)
    client.post("/fhir/Patient", json=patient("B2", "Twin"), headers=JSON)
    response = client.post("/fhir/Patient", json=patient("B3"), headers={**JSON, "If-None-Exist": "family=Twin"})
    assert response.status_code == 412
    assert response.json()["issue"][0]["code"] == "conflict"


def test_conditional_create_with_an_unknown_parameter_is_400(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json=patient("C1"), headers={**JSON, "If-None-Exist": "nonsense=1"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["nonsense"]


def test_concurrent_conditional_creates_never_make_two(client: TestClient) -> None:
    headers = {**JSON, "If-None-Exist": "identifier=http://example.org/ids|RACE"}
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        statuses.append(client.post("/fhir/Patient", json=patient("RACE"), headers=headers).status_code)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [201]
    found = client.get("/fhir/Patient", params={"identifier": "http://example.org/ids|RACE"}).json()
    assert found["total"] == 1


def test_conditional_update_creates_then_updates(client: TestClient) -> None:
    url = "/fhir/Patient?identifier=http://example.org/ids|U1"
    created = client.put(url, json=patient("U1"), headers=JSON)
    assert created.status_code == 201
    updated = client.put(url, json=patient("U1", "Changed"), headers=JSON)
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"


def test_conditional_update_with_a_different_body_id_is_400(client: TestClient) -> None:
    url = "/fhir/Patient?identifier=http://example.org/ids|U2"
    client.put(url, json=patient("U2"), headers=JSON)
    response = client.put(url, json={**patient("U2"), "id": "someone-else"}, headers=JSON)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.id"]


def test_conditional_delete_deletes_the_one_match(client: TestClient) -> None:
    created = client.post("/fhir/Patient", json=patient("D1"), headers=JSON).json()
    assert client.delete("/fhir/Patient?identifier=http://example.org/ids|D1").status_code == 204
    assert client.get(f"/fhir/Patient/{created['id']}").status_code == 410
    assert client.delete("/fhir/Patient?identifier=http://example.org/ids|D1").status_code == 204


def test_conditional_delete_with_several_matches_is_412_and_deletes_nothing(client: TestClient) -> None:
    first = client.post("/fhir/Patient", json=patient("E1", "Many"), headers=JSON).json()
    client.post("/fhir/Patient", json=patient("E2", "Many"), headers=JSON)
    assert client.delete("/fhir/Patient?family=Many").status_code == 412
    assert client.get(f"/fhir/Patient/{first['id']}").status_code == 200
