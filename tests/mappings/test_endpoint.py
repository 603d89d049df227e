"""endpoints <-> Endpoint (http://hl7.org/fhir/R4/endpoint.html)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Endpoint, Organization
from fhir_server.db.directory import ENDPOINT_STATUSES
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from mappings.endpoint import EndpointMapping
from tests.clinics import make_clinic
from tests.mappings.mapping_support import (
    build_row,
    columns_of,
    golden_names,
    load,
    official_codes,
    r4_issues,
    references_read,
    without_meta,
)
from tests.mappings.roundtrip_support import columns_of_row, held_as_sent

NAMES = golden_names("endpoint")


@pytest.mark.parametrize("name", NAMES)
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    resource = EndpointMapping.to_fhir(build_row(EndpointMapping, load(name, "row")))
    assert resource == load(name, "fhir")
    assert r4_issues(resource) == []


@pytest.mark.parametrize("name", NAMES)
def test_golden_resource_is_held_as_its_row(name: str) -> None:
    row, resource = load(name, "row"), load(name, "fhir")
    assert EndpointMapping.from_fhir(resource).columns == columns_of(EndpointMapping, row)
    assert references_read(EndpointMapping, resource) == row["references"]


def test_the_status_column_holds_exactly_the_fhir_endpoint_statuses() -> None:
    assert set(ENDPOINT_STATUSES) == official_codes("http://hl7.org/fhir/endpoint-status")


def test_a_connection_type_of_another_system_is_kept_as_sent() -> None:
    resource = load("endpoint-client", "fhir")
    resource["connectionType"] = {"system": "http://example.org/connection", "code": "sftp"}
    row = build_row(EndpointMapping, {**load("endpoint-client", "row"), "extra": without_meta(resource)})
    row.connection_type = EndpointMapping.from_fhir(resource).columns["connection_type"]
    assert row.connection_type == "sftp"
    assert EndpointMapping.to_fhir(row)["connectionType"] == {"system": "http://example.org/connection", "code": "sftp"}


# --- over HTTP, on SQLite and PostgreSQL ----------------------------------------------------------------------

DICOMWEB = {
    "resourceType": "Endpoint",
    "status": "active",
    "connectionType": {
        "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
        "code": "dicom-wado-rs",
    },
    "name": "DICOM WADO-RS endpoint",
    "payloadType": [{"text": "DICOM WADO-RS"}],
    "payloadMimeType": ["application/dicom"],
    "address": "https://fhir.example.org/dicomweb",
}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Any]:
    return make_clinic(client, "Riverside")


def _created(client: TestClient, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/fhir/Endpoint", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_get_after_post_returns_what_was_sent(client: TestClient, clinic: dict[str, Any]) -> None:
    sent = {**DICOMWEB, "managingOrganization": {"reference": f"Organization/{clinic['id']}"}}
    created = _created(client, sent)
    read = client.get(f"/fhir/Endpoint/{created['id']}").json()
    assert without_meta(read) == without_meta(sent)
    assert read["meta"]["versionId"] == "1"
    assert r4_issues(read) == []


def test_an_endpoint_without_managing_organization_belongs_to_the_only_clinic(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    created = _created(client, DICOMWEB)
    assert created["managingOrganization"] == {"reference": f"Organization/{clinic['id']}"}
    with database.read() as session:
        row = session.scalars(select(Endpoint).where(Endpoint.fhir_id == created["id"])).one()
        assert (row.connection_type, row.address, row.status) == ("dicom-wado-rs", DICOMWEB["address"], "active")


def test_an_internal_change_is_served_as_a_new_version(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    created = _created(client, DICOMWEB)
    with database.write() as session:
        row = session.scalars(select(Endpoint).where(Endpoint.fhir_id == created["id"])).one()
        row.address = "https://imaging.example.org/dicomweb"
        row.status = "off"
    read = client.get(f"/fhir/Endpoint/{created['id']}").json()
    assert read["meta"]["versionId"] == "2"
    assert (read["address"], read["status"]) == ("https://imaging.example.org/dicomweb", "off")
    assert read["payloadType"] == DICOMWEB["payloadType"]  # what has no column is kept
    assert client.get(f"/fhir/Endpoint/{created['id']}/_history/1").json()["address"] == DICOMWEB["address"]


def test_a_row_made_inside_the_server_is_valid_r4(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    with database.write() as session:
        clinic_id = session.scalars(select(Organization.id).where(Organization.fhir_id == clinic["id"])).one()
        session.add(
            Endpoint(
                organization_id=clinic_id,
                fhir_id="internal",
                connection_type="dicom-wado-rs",
                address="https://fhir.example.org/dicomweb",
            )
        )
    read = client.get("/fhir/Endpoint/internal").json()
    assert read["payloadType"][0]["coding"][0]["code"] == "any"
    assert read["status"] == "active"
    assert r4_issues(read) == []


def _issue(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def _managed(clinic: dict[str, Any], **elements: Any) -> dict[str, Any]:
    return {**DICOMWEB, "managingOrganization": {"reference": f"Organization/{clinic['id']}"}, **elements}


def test_a_connection_type_without_code_is_kept_with_the_column_empty(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    sent = _managed(clinic, connectionType={"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"})
    served = held_as_sent(client, sent)  # R4: Coding.code is 0..1
    assert columns_of_row(database, EndpointMapping, served["id"], "connection_type") == (None,)


def test_an_unknown_status_is_refused(client: TestClient, clinic: dict[str, Any]) -> None:
    issue = _issue(client.post("/fhir/Endpoint", json={**DICOMWEB, "status": "retired"}))
    assert issue["expression"] == ["Endpoint.status"]


def test_values_longer_than_their_columns_are_kept_with_the_columns_empty(
    client: TestClient, clinic: dict[str, Any], database: Database
) -> None:
    sent = _managed(clinic, name="x" * 201, address="https://pacs.example.org/" + "p" * 1000)
    served = held_as_sent(client, sent)
    assert columns_of_row(database, EndpointMapping, served["id"], "name", "address") == (None, None)
    found = client.get("/fhir/Endpoint", params={"name": "x" * 201}).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [served["id"]]
