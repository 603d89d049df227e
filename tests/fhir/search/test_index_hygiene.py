"""The search index follows every change, whoever makes it: a FHIR update or delete, or a change of the internal
rows through a SQLAlchemy session (as the CLI, the seed and the imaging sync make them). Old versions' rows are
kept only as long as a paged search may still need them (http://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from fhir_server.db import Organization, Patient, ResourceHistory, SearchString
from fhir_server.db.engine import Database
from fhir_server.db.types import utcnow
from fhir_server.fhir.search.indexer import SNAPSHOT_LIFETIME
from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import Json, create, ids, search


def _clinic_and_patient(client: TestClient, family: str = "Original") -> tuple[Json, Json]:
    clinic = clinic_of(client)
    patient = create(
        client,
        {
            "resourceType": "Patient",
            "name": [{"family": family, "given": ["Pat"]}],
            "gender": "female",
            "managingOrganization": {"reference": f"Organization/{clinic['id']}"},
        },
    )
    return clinic, patient


def _found(client: TestClient, *params: tuple[str, str]) -> list[str]:
    return ids(search(client, "Patient", list(params)))


def test_an_updated_value_no_longer_matches_its_old_value(client: TestClient) -> None:
    _, patient = _clinic_and_patient(client)
    changed = {**patient, "name": [{"family": "Renamed", "given": ["Pat"]}], "gender": "other"}
    assert client.put(f"/fhir/Patient/{patient['id']}", json=changed).status_code == 200
    assert _found(client, ("family", "original")) == []
    assert _found(client, ("gender", "female")) == []
    assert _found(client, ("family", "renamed")) == [patient["id"]]
    assert _found(client, ("gender", "other")) == [patient["id"]]
    assert _found(client, ("family:missing", "true")) == []


def test_a_deleted_resource_matches_nothing(client: TestClient) -> None:
    _, patient = _clinic_and_patient(client)
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code in {200, 204}
    assert _found(client, ("family", "original")) == []
    assert _found(client, ("_id", patient["id"])) == []
    assert _found(client, ("family:missing", "true")) == []
    assert search(client, "Patient", [])["total"] == 0


def test_a_resource_created_again_after_delete_is_found_by_its_new_values(client: TestClient) -> None:
    _, patient = _clinic_and_patient(client)
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code in {200, 204}
    revived = {**patient, "name": [{"family": "Revived", "given": ["Pat"]}]}
    assert client.put(f"/fhir/Patient/{patient['id']}", json=revived).status_code in {200, 201}
    assert _found(client, ("family", "revived")) == [patient["id"]]
    assert _found(client, ("family", "original")) == []


def test_internal_row_changes_are_searchable_at_once(client: TestClient, database_url: str) -> None:
    clinic, patient = _clinic_and_patient(client)
    database = Database(database_url)
    try:
        with database.write() as session:
            row = session.scalars(select(Patient).where(Patient.fhir_id == patient["id"])).one()
            row.family_name = "Internal"
            org = session.scalars(select(Organization).where(Organization.fhir_id == clinic["id"])).one()
            session.add(Patient(organization_id=org.id, mrn="MRN-X1", given_name="Row", family_name="Inserted"))
        assert _found(client, ("family", "internal")) == [patient["id"]]
        assert _found(client, ("family", "original")) == []
        inserted = _found(client, ("family", "inserted"))
        assert len(inserted) == 1
        with database.write() as session:
            row = session.scalars(select(Patient).where(Patient.fhir_id == inserted[0])).one()
            row.deleted_at = utcnow()
        assert _found(client, ("family", "inserted")) == []
    finally:
        database.dispose()


def test_index_rows_of_versions_no_search_can_see_are_dropped(client: TestClient, database_url: str) -> None:
    _, patient = _clinic_and_patient(client)
    for family in ("Second", "Third"):
        body = {**patient, "name": [{"family": family, "given": ["Pat"]}]}
        assert client.put(f"/fhir/Patient/{patient['id']}", json=body).status_code == 200
    database = Database(database_url)
    try:
        with database.write() as session:  # version 1 was replaced longer ago than any paged search lives
            session.execute(
                update(ResourceHistory)
                .where(ResourceHistory.resource_id == patient["id"], ResourceHistory.version_id == 1)
                .values(superseded_at=utcnow() - SNAPSHOT_LIFETIME - timedelta(minutes=1))
            )
        body = {**patient, "name": [{"family": "Fourth", "given": ["Pat"]}]}
        assert client.put(f"/fhir/Patient/{patient['id']}", json=body).status_code == 200
        with database.read() as session:
            versions = session.scalars(
                select(SearchString.version_id)
                .where(SearchString.resource_id == patient["id"], SearchString.param == "family")
                .group_by(SearchString.version_id)
                .order_by(SearchString.version_id)
            ).all()
            rows = session.scalar(select(func.count()).select_from(SearchString))
        assert list(versions) == [2, 3, 4]
        assert rows
    finally:
        database.dispose()
