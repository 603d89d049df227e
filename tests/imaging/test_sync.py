"""ImagingStudy sync with a real Orthanc: studies stored there directly, deleted there, the watcher, the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.app import create_app
from fhir_server.cli import app as cli
from fhir_server.db import ImagingStudy, Patient
from fhir_server.db.engine import Database
from fhir_server.imaging.orthanc import OrthancClient
from fhir_server.imaging.passes import follow_changes, full_pass, reconcile
from fhir_server.settings import Settings
from tests.imaging.conftest import (
    CT,
    CT_STUDY,
    MR,
    NM,
    NM_STUDY,
    US,
    Clinics,
    bearer,
    dicom_bytes,
    imaging_settings,
    install_tokens,
)
from tests.imaging.orthanc_process import OrthancProcess

pytestmark = pytest.mark.slow


def store_directly(orthanc: OrthancProcess, *files: str) -> list[str]:
    """Store files through Orthanc's own REST API (as a modality or another tool would); their study ids."""
    with orthanc.rest() as rest:
        return [rest.post("/instances", content=dicom_bytes(f)).json()["ParentStudy"] for f in files]


def rows(database: Database) -> dict[str, ImagingStudy]:
    with database.read() as session:
        return {str(r.study_instance_uid): r for r in session.scalars(select(ImagingStudy))}


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


@pytest.fixture
def settings(database_url: str, empty_orthanc: OrthancProcess, clinics: Clinics) -> Settings:
    return imaging_settings(database_url, empty_orthanc, "http://fhir.example/fhir")


def test_a_full_pass_makes_an_imaging_study_of_every_study_in_its_clinic(
    database: Database, settings: Settings, empty_orthanc: OrthancProcess, clinics: Clinics
) -> None:
    store_directly(empty_orthanc, CT, NM)
    with OrthancClient(settings) as client:
        report = full_pass(database, settings, client)
        assert report.counts == {"created": 2}
        assert full_pass(database, settings, client).counts == {"unchanged": 2}  # no new versions
    found = rows(database)
    assert found[CT_STUDY].organization_id == clinics.a and found[CT_STUDY].patient_id == clinics.patient_rows["1CT1"]
    assert found[NM_STUDY].organization_id == clinics.b and found[NM_STUDY].version_id == 1


def test_studies_stored_directly_arrive_through_the_change_feed(
    database: Database, settings: Settings, empty_orthanc: OrthancProcess
) -> None:
    with OrthancClient(settings) as client:
        since = client.last_change()
        store_directly(empty_orthanc, MR)
        since, report = follow_changes(database, settings, client, since)
        assert report.counts == {"created": 1}
        assert follow_changes(database, settings, client, since)[1].counts == {}


def test_deletions_in_orthanc_are_found_by_reconciliation(
    database: Database, settings: Settings, empty_orthanc: OrthancProcess, clinics: Clinics
) -> None:
    [ct_id] = store_directly(empty_orthanc, CT)
    with OrthancClient(settings) as client:
        full_pass(database, settings, client)
        client.delete_study(ct_id)
        assert client.changes(0).changes == []  # Orthanc's feed does not report the deletion
        assert reconcile(database, settings, client).counts == {"deleted": 1}
    app = create_app(settings, database)
    with TestClient(app) as http:
        install_tokens(app, clinics)
        read = http.get(f"/fhir/ImagingStudy/{rows(database)[CT_STUDY].fhir_id}", headers=bearer("a-user"))
    assert read.status_code == 410


def test_an_unknown_patient_is_skipped_when_creating_patients_is_off(
    database: Database, database_url: str, empty_orthanc: OrthancProcess, clinics: Clinics
) -> None:
    settings = imaging_settings(
        database_url, empty_orthanc, "http://fhir.example/fhir", imaging_create_unknown_patients=False,
        imaging_organization="Clinic A",
    )  # fmt: skip
    store_directly(empty_orthanc, US)
    with OrthancClient(settings) as client:
        report = full_pass(database, settings, client)
    assert report.counts == {"skipped": 1}
    assert "204" in report.problems[0]
    with database.read() as session:
        assert session.scalars(select(Patient).where(Patient.mrn == "204")).first() is None


def test_a_study_of_no_known_clinic_is_skipped_and_reported(
    database: Database, settings: Settings, empty_orthanc: OrthancProcess
) -> None:
    store_directly(empty_orthanc, US)  # PatientID 204: no clinic has it, two clinics exist, none configured
    with OrthancClient(settings) as client:
        report = full_pass(database, settings, client)
    assert report.counts == {"skipped": 1}
    assert "FHIR_SERVER_IMAGING_ORGANIZATION" in report.problems[0]


def test_the_server_runs_the_watcher_itself(
    database: Database, database_url: str, empty_orthanc: OrthancProcess, clinics: Clinics
) -> None:
    settings = imaging_settings(
        database_url, empty_orthanc, "http://fhir.example/fhir", imaging_watch=True, imaging_poll_interval=0.2,
        imaging_reconcile_interval=0.5,
    )  # fmt: skip
    [ct_id] = store_directly(empty_orthanc, CT)
    with TestClient(create_app(settings, database)):
        wait_for(lambda: CT_STUDY in rows(database))  # the first full pass
        store_directly(empty_orthanc, NM)
        wait_for(lambda: NM_STUDY in rows(database))  # the change feed (StableStudy)
        with empty_orthanc.rest() as rest:
            rest.delete(f"/studies/{ct_id}").raise_for_status()
        wait_for(lambda: rows(database)[CT_STUDY].deleted_at is not None)  # reconciliation


def test_cli_imaging_sync_runs_one_pass(
    settings: Settings, empty_orthanc: OrthancProcess, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_directly(empty_orthanc, CT, MR)
    for name, value in {
        "FHIR_SERVER_DATABASE_URL": settings.database_url,
        "FHIR_SERVER_ORTHANC_URL": empty_orthanc.url,
        "FHIR_SERVER_ORTHANC_USERNAME": empty_orthanc.auth[0],
        "FHIR_SERVER_ORTHANC_PASSWORD": empty_orthanc.auth[1],
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["imaging", "sync"])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    assert len(rows(database)) == 2


def test_cli_imaging_sync_fails_in_one_line_when_orthanc_is_down(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_SERVER_DATABASE_URL", database_url)
    monkeypatch.setenv("FHIR_SERVER_ORTHANC_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(cli, ["imaging", "sync"])
    assert result.exit_code == 1
    assert "not reachable" in result.output
