"""The published definitions (ConceptMaps, StructureDefinitions) are readable, searchable and read-only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.conceptmap import ConceptMap
from fhir.resources.R4B.structuredefinition import StructureDefinition

from tests.authorized_client import fhir_client


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        yield client


def test_the_appointment_status_conceptmap_is_served(client: TestClient) -> None:
    response = client.get("/fhir/ConceptMap/appointment-status")
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'
    conceptmap = ConceptMap.model_validate(response.json())
    sources = {element.code for group in conceptmap.group or [] for element in group.element or []}
    assert {"unconfirmed", "confirmed", "arrived", "completed", "cancelled", "no-show"} <= sources


def test_conceptmaps_are_searchable_by_url(client: TestClient) -> None:
    everything = client.get("/fhir/ConceptMap").json()
    Bundle.model_validate(everything)
    assert everything["total"] >= 1
    url = everything["entry"][0]["resource"]["url"]
    found = client.get("/fhir/ConceptMap", params={"url": url}).json()
    assert [e["resource"]["url"] for e in found["entry"]] == [url]
    assert client.get("/fhir/ConceptMap", params={"url": "http://nowhere"}).json()["total"] == 0


def test_every_published_structure_definition_is_valid(client: TestClient) -> None:
    bundle = client.get("/fhir/StructureDefinition").json()
    published = sorted(entry["resource"]["id"] for entry in bundle.get("entry", []))
    assert published == ["appointment-meeting-url", "practitioner-calendar-color", "questionnaireresponse-appointment"]
    for entry in bundle["entry"]:
        StructureDefinition.model_validate(entry["resource"])


def test_published_definitions_are_read_only(client: TestClient) -> None:
    for method, url in [
        ("POST", "/fhir/ConceptMap"),
        ("PUT", "/fhir/ConceptMap/appointment-status"),
        ("DELETE", "/fhir/ConceptMap/appointment-status"),
    ]:
        response = client.request(method, url, json={"resourceType": "ConceptMap"})
        assert response.status_code == 405
        assert response.json()["issue"][0]["code"] == "not-supported"


def test_unknown_definitions_and_parameters(client: TestClient) -> None:
    assert client.get("/fhir/ConceptMap/nope").status_code == 404
    response = client.get("/fhir/ConceptMap", params={"target": "x"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["target"]
