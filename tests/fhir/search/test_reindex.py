"""``fhir-server reindex``: the search index rebuilt from the stored current versions, in batches, on both
databases; with ``--rerender``, rows changed behind the versioning hook's back become new versions first."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, update
from typer.testing import CliRunner

from fhir_server.cli import app
from fhir_server.db import Patient, SearchReference, SearchString
from fhir_server.db.engine import Database
from fhir_server.fhir.search.indexer import INDEX_TABLES
from fhir_server.fhir.search.reindex import count_versions, rebuild
from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import Json, create, ids, search


@pytest.fixture
def clinic(client: TestClient) -> dict[str, Json]:
    """A clinic with a practitioner, five patients (one deleted) and an appointment."""
    org = clinic_of(client)
    doctor = create(client, {"resourceType": "Practitioner", "name": [{"family": "Karev", "given": ["Alex"]}]})
    made = {"org": org, "doctor": doctor}
    for i in range(5):
        made[f"p{i}"] = create(
            client,
            {
                "resourceType": "Patient",
                "name": [{"family": f"Family{i}", "given": ["Pat"]}],
                "managingOrganization": {"reference": f"Organization/{org['id']}"},
            },
        )
    assert client.delete(f"/fhir/Patient/{made['p4']['id']}").status_code in {200, 204}
    made["visit"] = create(
        client,
        {
            "resourceType": "Appointment",
            "status": "booked",
            "start": "2026-03-01T10:00:00Z",
            "end": "2026-03-01T10:30:00Z",
            "participant": [
                {"actor": {"reference": f"Patient/{made['p0']['id']}"}, "status": "accepted"},
                {"actor": {"reference": f"Practitioner/{doctor['id']}"}, "status": "accepted"},
            ],
        },
    )
    return made


def _index_size(database: Database) -> int:
    with database.read() as session:
        return sum(int(session.scalar(select(func.count()).select_from(t)) or 0) for t in INDEX_TABLES)


def _drop_index(database: Database) -> None:
    with database.write() as session:
        for table in INDEX_TABLES:
            session.execute(delete(table))


def _searches_match(client: TestClient, made: dict[str, Json]) -> None:
    assert ids(search(client, "Patient", [("family", "family1")])) == [made["p1"]["id"]]
    assert ids(search(client, "Appointment", [("patient.family", "family0")])) == [made["visit"]["id"]]
    assert ids(search(client, "Patient", [("family", "family4")])) == []  # deleted stays unfound


def test_rebuild_restores_every_index_row_in_batches(
    client: TestClient, database: Database, clinic: dict[str, Json]
) -> None:
    before = _index_size(database)
    _drop_index(database)
    assert ids(search(client, "Patient", [("family", "family1")])) == []
    batches: list[int] = []
    done = rebuild(database, batch_size=3, progress=batches.append)
    # organization, practitioner, 5 patients (the deleted one as it was before), visit
    assert done.versions == count_versions(database) == 8
    assert batches == [3, 3, 2]
    assert _index_size(database) == before == done.rows
    _searches_match(client, clinic)


def test_rebuild_drops_rows_of_versions_that_do_not_exist(database: Database, clinic: dict[str, Json]) -> None:
    with database.write() as session:
        session.execute(
            insert(SearchString),
            [{"resource_type": "Patient", "resource_id": "ghost", "version_id": 1, "param": "family"} | _text("Ghost")],
        )
    rebuild(database)
    with database.read() as session:
        ghosts = session.scalar(
            select(func.count()).select_from(SearchString).where(SearchString.resource_id == "ghost")
        )
        deleted = clinic["p4"]["id"]
        of_deleted = session.scalar(
            select(func.count()).select_from(SearchString).where(SearchString.resource_id == deleted)
        )
    assert ghosts == 0
    assert of_deleted  # its last live version's rows, kept for searches paged since before the delete


def _text(value: str) -> dict[str, str]:
    return {"normalized": value.lower(), "exact": value}


def test_rerender_records_rows_changed_behind_the_hooks_back(
    client: TestClient, database: Database, clinic: dict[str, Json]
) -> None:
    patient_id = clinic["p2"]["id"]
    with database.write() as session:  # a bulk SQL update: no ORM object, no versioning hook
        session.execute(update(Patient).where(Patient.fhir_id == patient_id).values(family_name="Bulkload"))
    assert ids(search(client, "Patient", [("family", "bulkload")])) == []
    done = rebuild(database, rerender=True)
    assert done.rerendered == 1
    assert ids(search(client, "Patient", [("family", "bulkload")])) == [patient_id]
    assert ids(search(client, "Patient", [("family", "family2")])) == []
    current = client.get(f"/fhir/Patient/{patient_id}").json()
    assert current["meta"]["versionId"] == "2"
    assert current["name"][0]["family"] == "Bulkload"
    assert rebuild(database, rerender=True).rerendered == 0


def test_reindex_command_rebuilds_the_index(client: TestClient, database_url: str, clinic: dict[str, Json]) -> None:
    database = Database(database_url)
    try:
        _drop_index(database)
        result = CliRunner().invoke(
            app, ["reindex", "--batch-size", "2"], env={"FHIR_SERVER_DATABASE_URL": database_url}
        )
        assert result.exit_code == 0, result.output
        assert "reindexed 8 versions" in result.output
        with database.read() as session:
            assert session.scalar(select(func.count()).select_from(SearchReference))
    finally:
        database.dispose()
    _searches_match(client, clinic)


def test_reindex_command_has_help() -> None:
    result = CliRunner().invoke(app, ["reindex", "--help"])
    assert result.exit_code == 0
    assert "--rerender" in result.output
