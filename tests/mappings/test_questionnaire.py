"""questionnaires <-> Questionnaire (http://hl7.org/fhir/R4/questionnaire.html)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.app import create_app
from fhir_server.db import Organization, Questionnaire
from fhir_server.db.directory import PUBLICATION_STATUSES
from fhir_server.db.engine import Database
from fhir_server.settings import load_settings
from mappings.questionnaire import QuestionnaireMapping
from tests.clinics import make_clinic
from tests.mappings.mapping_support import (
    build_row,
    columns_of,
    golden_names,
    load,
    official_codes,
    r4_issues,
    without_meta,
)
from tests.mappings.roundtrip_support import held_as_sent

NAMES = golden_names("questionnaire")


@pytest.mark.parametrize("name", NAMES)
def test_golden_row_is_served_as_its_resource(name: str) -> None:
    resource = QuestionnaireMapping.to_fhir(build_row(QuestionnaireMapping, load(name, "row")))
    assert resource == load(name, "fhir")
    assert r4_issues(resource) == []


@pytest.mark.parametrize("name", NAMES)
def test_golden_resource_is_held_as_its_row(name: str) -> None:
    row, resource = load(name, "row"), load(name, "fhir")
    values = QuestionnaireMapping.from_fhir(resource)
    assert values.columns == columns_of(QuestionnaireMapping, row)
    assert values.references == {}


def test_the_status_column_holds_exactly_the_fhir_publication_statuses() -> None:
    assert set(PUBLICATION_STATUSES) == official_codes("http://hl7.org/fhir/publication-status")


# --- over HTTP, on SQLite and PostgreSQL ----------------------------------------------------------------------


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(load_settings(database_url=database_url))) as client:
        yield client


def _clinic(client: TestClient, name: str) -> str:
    return str(make_clinic(client, name)["id"])


def _sent() -> dict[str, Any]:
    """The golden client Questionnaire as a client sends it (no id, only its own meta)."""
    resource = load("questionnaire-client", "fhir")
    return without_meta(resource) | {"meta": {"profile": resource["meta"]["profile"]}}


def _row(database: Database, fhir_id: str) -> Questionnaire:
    with database.read() as session:
        return session.scalars(select(Questionnaire).where(Questionnaire.fhir_id == fhir_id)).one()


def test_get_after_post_returns_what_was_sent(client: TestClient) -> None:
    created = client.post("/fhir/Questionnaire", json=_sent())
    assert created.status_code == 201, created.text
    read = client.get(f"/fhir/Questionnaire/{created.json()['id']}").json()
    assert without_meta(read) == without_meta(_sent())
    assert read["meta"]["profile"] == _sent()["meta"]["profile"]  # the client's meta is kept beside the server's
    assert r4_issues(read) == []


def test_a_questionnaire_written_without_a_clinic_is_shared_by_every_clinic(
    client: TestClient, database: Database
) -> None:
    _clinic(client, "North"), _clinic(client, "South")
    created = client.post("/fhir/Questionnaire", json=_sent())
    assert created.status_code == 201, created.text
    row = _row(database, created.json()["id"])
    assert row.organization_id is None
    assert (row.url, row.version, row.status) == ("http://example.org/fhir/Questionnaire/phq-2", "1.2.0", "draft")


def test_an_update_keeps_the_clinic_of_a_clinic_questionnaire(client: TestClient, database: Database) -> None:
    north = _clinic(client, "North")
    created = client.post("/fhir/Questionnaire", json=_sent()).json()
    with database.write() as session:
        north_id = session.scalars(select(Organization.id).where(Organization.fhir_id == north)).one()
        row = session.scalars(select(Questionnaire).where(Questionnaire.fhir_id == created["id"])).one()
        row.organization_id = north_id
    updated = client.put(f"/fhir/Questionnaire/{created['id']}", json={**created, "status": "active"})
    assert updated.status_code == 200, updated.text
    row = _row(database, created["id"])
    assert (row.status, row.organization_id) == ("active", north_id)


def test_an_internal_change_is_served_as_a_new_version(client: TestClient, database: Database) -> None:
    created = client.post("/fhir/Questionnaire", json=_sent()).json()
    with database.write() as session:
        row = session.scalars(select(Questionnaire).where(Questionnaire.fhir_id == created["id"])).one()
        row.status = "retired"
        row.title = "PHQ-2 (superseded by PHQ-9)"
    read = client.get(f"/fhir/Questionnaire/{created['id']}").json()
    assert read["meta"]["versionId"] == "2"
    assert (read["status"], read["title"]) == ("retired", "PHQ-2 (superseded by PHQ-9)")
    assert read["item"] == _sent()["item"]


def _issue(response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_an_unknown_status_is_refused(client: TestClient) -> None:
    issue = _issue(client.post("/fhir/Questionnaire", json={**_sent(), "status": "published"}))
    assert issue["expression"] == ["Questionnaire.status"]


def test_a_title_and_publisher_longer_than_their_columns_are_kept_and_found(
    client: TestClient, database: Database
) -> None:
    served = held_as_sent(client, {**_sent(), "title": "t" * 501, "publisher": "p" * 201})
    assert (_row(database, served["id"]).title, _row(database, served["id"]).publisher) == (None, None)
    found = client.get("/fhir/Questionnaire", params={"title": "t" * 501}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [served["id"]]
