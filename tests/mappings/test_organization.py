"""organizations (clinics and the Organizations they work with) <-> Organization: golden pairs both ways, round trips,
internal changes. An Organization written through FHIR is data of the database's clinic (``clinic``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.db import Organization
from fhir_server.db.engine import Database
from mappings.datatypes import NPI_SYSTEM
from mappings.organization import ORGANIZATION_TYPE_SYSTEM, OrganizationMapping
from tests.mappings.mapping_support import golden_names, load, r4_issues
from tests.mappings.roundtrip_support import as_sent, assert_reads_back, created, current, golden_row, issue_of


def rich_organization() -> dict[str, Any]:
    """An Organization using much of R4: extensions, unmapped elements, identifiers and telecoms in odd orders."""
    return {
        "resourceType": "Organization",
        "meta": {"tag": [{"system": "http://example.org/tags", "code": "partner"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Hilltop Clinic</div>'},
        "contained": [{"resourceType": "Endpoint", "id": "fax", "status": "active",
                       "connectionType": {"code": "direct-project"}, "payloadType": [{"text": "referrals"}],
                       "address": "mailto:referrals@hilltop.example.org"}],
        "extension": [{"url": "http://example.org/fhir/StructureDefinition/founded", "valueDate": "1998"}],
        "identifier": [
            {"system": "http://example.org/partners", "value": "P-9"},
            {"use": "official", "system": NPI_SYSTEM, "value": "1245319599"},
        ],
        "active": True,
        "type": [{"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"},
            {"system": ORGANIZATION_TYPE_SYSTEM, "code": "practice"},
        ]}],
        "name": "Hilltop Clinic",
        "alias": ["Hilltop", "HC"],
        "telecom": [
            {"system": "email", "value": "desk@hilltop.example.org"},
            {"system": "phone", "value": "+1 555 0300", "use": "work"},
            {"system": "fax", "value": "+1 555 0301"},
        ],
        "address": [
            {"use": "work", "line": ["3 Hill Rd"], "city": "Springfield", "state": "MA", "postalCode": "01105"},
            {"use": "billing", "line": ["PO Box 3"], "city": "Springfield"},
        ],
        "contact": [{"purpose": {"text": "billing"}, "name": {"text": "Accounts"}}],
        "endpoint": [{"reference": "#fax"}],
    }  # fmt: skip


@pytest.mark.parametrize("name", golden_names("organization"))
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    served = OrganizationMapping.to_fhir(golden_row(OrganizationMapping, name))
    assert served == load(name, "fhir")
    assert r4_issues(served) == []


@pytest.mark.parametrize("name", golden_names("organization"))
def test_golden_resource_reads_back_as_its_row(name: str) -> None:
    assert_reads_back(OrganizationMapping, name)


def test_a_rich_organization_is_served_back_as_sent(
    clinic: dict[str, Any], client: TestClient, database: Database
) -> None:
    sent = rich_organization()
    body = created(client, sent)
    assert as_sent(body) == sent
    assert as_sent(current(client, "Organization", body["id"])) == sent
    with database.read() as session:
        row = session.scalars(select(Organization).where(Organization.fhir_id == body["id"])).one()
        assert (row.name, row.npi, row.type, row.phone) == ("Hilltop Clinic", "1245319599", "practice", "+1 555 0300")
        assert row.address == sent["address"][0]


def test_an_update_in_another_order_is_served_back_as_sent(clinic: dict[str, Any], client: TestClient) -> None:
    body = created(client, rich_organization())
    sent = rich_organization()
    sent["identifier"].reverse()
    sent["telecom"].reverse()
    sent["active"] = False
    response = client.put(f"/fhir/Organization/{body['id']}", json={**sent, "id": body["id"]})
    assert response.status_code == 200, response.text
    served = current(client, "Organization", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert as_sent(served) == sent


def test_an_internal_change_shows_in_a_new_version(
    clinic: dict[str, Any], client: TestClient, database: Database
) -> None:
    body = created(client, rich_organization())
    with database.write() as session:
        row = session.scalars(select(Organization).where(Organization.fhir_id == body["id"])).one()
        row.name = "Hilltop Family Clinic"
        row.type = "clinic"
    served = current(client, "Organization", body["id"])
    assert served["meta"]["versionId"] == "2"
    assert served["name"] == "Hilltop Family Clinic"
    assert served["type"][0]["coding"][1] == {"system": ORGANIZATION_TYPE_SYSTEM, "code": "clinic"}
    assert served["alias"] == ["Hilltop", "HC"]


def test_an_unknown_organization_type_of_the_clinics_system_is_refused(
    clinic: dict[str, Any], client: TestClient
) -> None:
    resource = {"resourceType": "Organization", "name": "X",
                "type": [{"coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": "spa"}]}]}  # fmt: skip
    response = client.post("/fhir/Organization", json=resource)
    assert response.status_code == 422
    assert issue_of(response)["expression"] == [
        f"Organization.type.coding.where(system='{ORGANIZATION_TYPE_SYSTEM}').code"
    ]
